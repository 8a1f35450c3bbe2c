"""`lmstack serve`, `lmstack keys …`, `lmstack usage`: thin commands over the library."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from lmstack.cli import serve_cmd
from lmstack.errors import UserError
from lmstack.serve.db.migrate import open_database
from lmstack.serve.limits import Limits
from lmstack.serve.server import ModelSpec, parse_model_specs, read_registry_file
from lmstack.serve.usage import UsageLedger, UsageRecord

app = typer.Typer()
app.command("serve")(serve_cmd.serve)
app.add_typer(serve_cmd.keys_app, name="keys")
app.command("usage")(serve_cmd.usage)
runner = CliRunner()


def test_keys_create_list_revoke_and_usage(tmp_path):
    db = ["--db-url", f"sqlite:///{tmp_path / 'k.db'}"]
    created = runner.invoke(app, ["keys", "create", "team-a", "--tokens-per-day", "1000", *db])
    assert created.exit_code == 0, created.output
    secret = created.stdout.splitlines()[0]
    assert secret.startswith("lms-")
    listed = runner.invoke(app, ["keys", "list", *db], env={"COLUMNS": "200"})
    assert "team-a" in listed.stdout and secret[:16] in listed.stdout and secret not in listed.stdout
    assert "1000" in listed.stdout
    revoked = runner.invoke(app, ["keys", "revoke", "team-a", *db])
    assert revoked.exit_code == 0 and "revoked key 1" in revoked.stdout

    ledger = UsageLedger(open_database(db[1]))
    for model, status in [("tiny", 200), ("tiny", 200), ("big", 429)]:
        ledger.record(UsageRecord(1, "/v1/chat/completions", model, 10, 5, 12, status))
    report = runner.invoke(app, ["usage", "--by", "model", *db], env={"COLUMNS": "200"})
    lines = [line.split() for line in report.stdout.splitlines()]
    assert ["│", "tiny", "│", "2", "│", "20", "│", "10", "│", "0", "│"] in lines
    assert ["│", "big", "│", "1", "│", "10", "│", "5", "│", "1", "│"] in lines
    with pytest.raises(UserError):
        runner.invoke(app, ["usage", "--by", "color", *db], catch_exceptions=False)


def test_serve_parses_then_calls_the_library(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr("lmstack.serve.server.serve",
                        lambda specs, section, **kw: seen.update(specs=specs, section=section, **kw))
    reg = tmp_path / "models.yaml"
    reg.write_text("models:\n  - {name: enc, path: /m/enc, kind: embedding}\nbundled_embeddings: false\n")
    r = runner.invoke(app, ["serve", "--model", "tiny=/m/tiny", "--registry", str(reg), "--port", "9001"])
    assert r.exit_code == 0, r.output
    assert seen["specs"] == [ModelSpec(name="tiny", path="/m/tiny"),
                             ModelSpec(name="enc", path="/m/enc", kind="embedding")]
    section = seen["section"]
    assert (section.host, section.port, section.db_url, seen["bundled_embeddings"]) == ("127.0.0.1", 9001, None, False)
    assert Limits.from_section(section) == Limits()  # the section's defaults are the library's
    assert section.prefill_chunk_tokens is None  # the engine's own default
    r = runner.invoke(app, ["serve", "--model", "tiny=/m/tiny", "--prefill-chunk-tokens", "64"])
    assert r.exit_code == 0, r.output
    assert seen["section"].prefill_chunk_tokens == 64
    r = runner.invoke(app, ["serve", "--model", "tiny=/m/tiny", "--prefill-chunk-tokens", "0"])
    assert r.exit_code == 2 and "--prefill-chunk-tokens" in r.output
    assert "127.0.0.1" in runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).stdout


@pytest.mark.parametrize("spec", ["tiny", "=/m", "../etc=/m", "a b=/m"])
def test_bad_model_specs_are_user_errors(spec):
    with pytest.raises(UserError):
        parse_model_specs([spec])


def test_bad_registry_file_is_a_user_error(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("models:\n  - {name: x}\n")
    with pytest.raises(UserError, match="not a valid model registry"):
        read_registry_file(bad)
    with pytest.raises(UserError, match="does not exist"):
        read_registry_file(tmp_path / "missing.yaml")


def test_bad_db_url_is_a_user_error():
    with pytest.raises(UserError, match="cannot open the database"):
        open_database("nosuchdialect://x")
