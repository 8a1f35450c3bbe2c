import json
import sys

import pytest
import typer
from typer.testing import CliRunner

from lmstack import __version__
from lmstack.cli import app, main

runner = CliRunner()


def all_commands(group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,)
        if hasattr(cmd, "commands"):  # a command group
            yield from all_commands(cmd, prefix + (name,))


COMMANDS = list(all_commands(typer.main.get_command(app)))


def run_main(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["lmstack", *args])
    with pytest.raises(SystemExit) as e:
        main()
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_the_expected_commands_exist():
    names = {" ".join(c) for c in COMMANDS}
    assert {"env", "generate", "run", "config show", "config schema", "config validate", "tokenizer train",
            "models presets", "models info"} <= names


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_for_every_command(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and "--help" in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.output.strip() == f"lmstack {__version__}"


def test_user_error_is_one_message_and_exit_2(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "p.yaml"
    bad.write_text("project: {name: demo}\ntrain: {lrr: 1}\n")
    code, out, err = run_main(monkeypatch, capsys, "config", "show", str(bad))
    assert code == 2
    assert "error:" in err and "did you mean 'lr'?" in err and "hint:" in err
    assert "Traceback" not in err + out


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    from lmstack.errors import UserError

    monkeypatch.setattr(sys, "argv", ["lmstack", "--debug", "config", "show", str(tmp_path / "missing.yaml")])
    with pytest.raises(UserError, match="no such config file"):
        main()


def test_validate_reports_each_file(tmp_path, monkeypatch, capsys):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("project: {name: good}\n")
    bad.write_text("project: {name: bad}\nmodel: {context_length: 4}\n")
    code, out, err = run_main(monkeypatch, capsys, "config", "validate", str(good), str(bad))
    assert code == 2
    assert f"ok   {good}" in out and "model.context_length" in out and "1 of 2 project file(s) are invalid" in err


def test_config_show_applies_overrides(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("project: {name: demo}\n")
    result = runner.invoke(app, ["config", "show", str(path), "-o", "train.max_steps=9", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["train"]["max_steps"] == 9


def test_config_schema_to_file(tmp_path):
    out = tmp_path / "schema.json"
    result = runner.invoke(app, ["config", "schema", "--out", str(out)])
    assert result.exit_code == 0
    assert json.loads(out.read_text())["title"] == "lmstack project"


def test_user_error_survives_pickling_with_its_hint():
    import pickle

    from lmstack.errors import UserError

    e = pickle.loads(pickle.dumps(UserError("bad row", hint="fix line 3")))
    assert (type(e), e.message, e.hint, str(e)) == (UserError, "bad row", "fix line 3", "bad row\n  hint: fix line 3")
