"""The usage ledger exported as an interaction log: rows written through UsageLedger, read by business_metrics."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lmstack.cli.eval_cmd import app
from lmstack.errors import UserError
from lmstack.eval.business import business_metrics
from lmstack.eval.usage_export import export_usage
from lmstack.serve.db.migrate import open_database
from lmstack.serve.keys import KeyStore
from lmstack.serve.usage import UsageLedger, UsageRecord


@pytest.fixture
def ledger_db(tmp_path):
    """7 requests: key A 3 (one 500), key B 2, no key 2; models tiny and big."""
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    engine = open_database(url)
    a, b = (KeyStore(engine).create(n).info.id for n in ("a", "b"))
    ledger = UsageLedger(engine)
    for key, model, status in [(a, "tiny", 200), (a, "tiny", 200), (b, "tiny", 200), (None, "big", 200),
                               (a, "tiny", 500), (b, "big", 200), (None, "tiny", 429)]:
        ledger.record(UsageRecord(key, "/v1/chat/completions", model, prompt_tokens=10, completion_tokens=4,
                                  latency_ms=25, status=status))
    engine.dispose()
    return url, a, b


def test_round_trip_per_request_and_per_key(ledger_db, tmp_path):
    url, a, b = ledger_db
    done = export_usage(url, tmp_path / "req.jsonl")
    assert (done.requests, done.sessions) == (7, 7)
    report = business_metrics(tmp_path / "req.jsonl")
    assert (report.sessions, report.mean_turns, report.bad_rows) == (7, 1.0, [])
    # the ledger holds no outcome or rating: those rates are unknown, not zero
    assert report.completion.n == report.mean_rating.n == report.csat.n == report.thumbs_up.n == 0
    lines = [json.loads(x) for x in (tmp_path / "req.jsonl").read_text().splitlines()]
    assert [x["session_id"] for x in lines] == [f"request-{i}" for i in range(1, 8)]
    assert sum(x["errors"] for x in lines) == 2 and all("resolved" not in x and "rating" not in x for x in lines)

    done = export_usage(url, tmp_path / "key.jsonl", session_by="key")
    report = business_metrics(tmp_path / "key.jsonl")
    assert (done.sessions, report.sessions, report.mean_turns) == (3, 3, pytest.approx(7 / 3))
    by_id = {x["session_id"]: x for x in map(json.loads, (tmp_path / "key.jsonl").read_text().splitlines())}
    assert {k: (v["turns"], v["errors"], v["prompt_tokens"]) for k, v in by_id.items()} == {
        f"key-{a}": (3, 1, 30), f"key-{b}": (2, 0, 20), "key-none": (2, 1, 20)}
    assert by_id[f"key-{a}"]["model"] == "tiny" and by_id[f"key-{b}"]["model"] is None  # b used two models

    day = export_usage(url, tmp_path / "day.jsonl", session_by="key-day", model="tiny")
    assert (day.requests, day.sessions) == (5, 3)
    assert business_metrics(tmp_path / "day.jsonl").sessions == 3


def test_cli_export_usage_then_business(ledger_db, tmp_path):
    url, _, _ = ledger_db
    cli = CliRunner()
    r = cli.invoke(app, ["export-usage", "--db-url", url, "--out", str(tmp_path / "s.jsonl"), "--session-by", "key"])
    assert r.exit_code == 0, r.output
    assert "7 requests → 3 sessions (by key)" in r.output
    r = cli.invoke(app, ["business", str(tmp_path / "s.jsonl")])
    assert r.exit_code == 0 and "sessions: 3" in r.output and "task completion: no sessions carry it" in r.output


def test_bad_database_or_grouping_is_a_user_error(ledger_db, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        export_usage(f"sqlite:///{tmp_path / 'missing.db'}", tmp_path / "o.jsonl")
    assert not (tmp_path / "missing.db").exists()
    (tmp_path / "other.db").touch()
    with pytest.raises(UserError, match="no 'usage' table"):
        export_usage(f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "o.jsonl")
    with pytest.raises(UserError, match="cannot make sessions by 'user'"):
        export_usage(ledger_db[0], tmp_path / "o.jsonl", session_by="user")
    assert not (tmp_path / "o.jsonl").exists()
