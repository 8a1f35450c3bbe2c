"""Business metrics from a session log, with Wilson intervals and bad rows reported."""

from __future__ import annotations

import json

import pytest

from lmstack.errors import UserError
from lmstack.eval.business import business_metrics


def _write(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_completion_and_satisfaction_with_intervals(tmp_path):
    rows = [{"session_id": f"s{i}", "turns": 2 + i % 3, "resolved": i < 8, "rating": 5 if i < 6 else 2,
             "thumbs": "up" if i % 2 else "down"} for i in range(10)]
    report = business_metrics(_write(tmp_path / "log.jsonl", rows))
    assert report.sessions == 10 and report.bad_rows == []
    assert report.completion.value == 0.8 and report.completion.n == 10
    assert report.completion.interval == pytest.approx((0.4902, 0.9433), abs=5e-5)
    assert report.mean_rating.value == pytest.approx((6 * 5 + 4 * 2) / 10)
    assert report.csat.value == 0.6
    assert report.thumbs_up.value == 0.5
    assert report.mean_turns == pytest.approx(sum(2 + i % 3 for i in range(10)) / 10)


def test_bad_rows_are_reported_with_line_and_reason(tmp_path):
    rows = [{"session_id": "a", "turns": 1, "resolved": True},
            "{not json",
            {"session_id": "b", "turns": 0},
            {"session_id": "c", "turns": 2, "rating": 7},
            {"turns": 2},
            {"session_id": "d", "turns": 3, "thumbs": "meh"},
            {"session_id": "e", "turns": 1, "resolved": "yes"},
            {"session_id": "f", "turns": 4, "rating": 4, "thumbs": True}]
    report = business_metrics(_write(tmp_path / "log.jsonl", rows))
    assert report.sessions == 2
    assert [(b.line, b.reason.split(" ")[0]) for b in report.bad_rows] == [
        (2, "not"), (3, "turns"), (4, "rating"), (5, "session_id"), (6, "thumbs"), (7, "resolved")]
    assert report.completion.n == 1 and report.csat.value == 1.0 and report.thumbs_up.value == 1.0


def test_a_log_without_usable_rows_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="line 1: turns must be"):
        business_metrics(_write(tmp_path / "log.jsonl", [{"session_id": "a", "turns": "x"}]))
    with pytest.raises(UserError, match="does not exist"):
        business_metrics(tmp_path / "missing.jsonl")
