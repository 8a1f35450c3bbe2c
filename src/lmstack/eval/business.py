"""Business metrics from interaction logs: task completion and user satisfaction, with intervals.

A log is JSON lines, one session per line:

    {"session_id": "s1", "turns": 3, "resolved": true, "rating": 5, "thumbs": "up"}

`resolved`, `rating` (1–5) and `thumbs` ("up"/"down", or true/false) are each optional: a rate
counts only the sessions that carry its field. There is no standard definition, so these are
lmstack's: completion = resolved share; CSAT = share of ratings ≥ 4; thumbs-up share. Each share
gets a Wilson interval, the mean rating a normal interval. Bad rows are skipped and reported
with their line number and reason, never silently dropped.

`lmstack eval export-usage` writes such a log from the server's usage ledger, without outcomes or
ratings (see `lmstack.eval.usage_export` for how sessions are formed and why those are left out).

    >>> report = business_metrics("logs/sessions.jsonl")                 # doctest: +SKIP
    >>> report.completion.value, report.completion.interval              # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lmstack.errors import UserError
from lmstack.jsonl import RowError, json_rows
from lmstack.eval.stats import mean_interval, wilson_interval

CSAT_THRESHOLD = 4
_THUMBS = {"up": True, "down": False, True: True, False: False}


@dataclass
class Estimate:
    """A rate or mean over `n` sessions with its confidence interval."""

    value: float | None
    interval: tuple[float, float] | None
    n: int


@dataclass
class BadRow:
    line: int
    reason: str


@dataclass
class BusinessReport:
    sessions: int
    mean_turns: float | None
    completion: Estimate
    mean_rating: Estimate
    csat: Estimate
    thumbs_up: Estimate
    confidence: float
    bad_rows: list[BadRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _proportion(hits: list[bool], confidence: float) -> Estimate:
    if not hits:
        return Estimate(None, None, 0)
    return Estimate(sum(hits) / len(hits), wilson_interval(sum(hits), len(hits), confidence), len(hits))


def _check_row(row: Any) -> str | None:
    """Why the row is unusable, or None."""
    if not isinstance(row, dict):
        return "not a JSON object"
    if not isinstance(row.get("session_id"), (str, int)) or isinstance(row.get("session_id"), bool):
        return "session_id missing (a string or an integer)"
    turns = row.get("turns")
    if not isinstance(turns, int) or isinstance(turns, bool) or turns < 1:
        return f"turns must be a positive integer, got {turns!r}"
    if "resolved" in row and not isinstance(row["resolved"], bool):
        return f"resolved must be true or false, got {row['resolved']!r}"
    rating = row.get("rating")
    if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5):
        return f"rating must be an integer from 1 to 5, got {rating!r}"
    if row.get("thumbs") is not None and row["thumbs"] not in _THUMBS:
        return f"thumbs must be 'up', 'down', true or false, got {row['thumbs']!r}"
    return None


def business_metrics(path: str | os.PathLike, confidence: float = 0.95) -> BusinessReport:
    """Completion and satisfaction from a JSON-lines session log (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"interaction log {str(path)!r} does not exist", hint="pass a JSON-lines file, one session per line")
    rows, bad = [], []
    for line_no, row in json_rows(path):
        reason = str(row) if isinstance(row, RowError) else _check_row(row)
        if reason:
            bad.append(BadRow(line_no, reason))
        else:
            rows.append(row)
    if not rows:
        detail = f"; first bad row: line {bad[0].line}: {bad[0].reason}" if bad else ""
        raise UserError(f"no usable sessions in {str(path)!r}{detail}",
                        hint='each line needs at least {"session_id": ..., "turns": N}')
    ratings = [r["rating"] for r in rows if r.get("rating") is not None]
    mean_rating = (Estimate(sum(ratings) / len(ratings), mean_interval(ratings, confidence), len(ratings))
                   if ratings else Estimate(None, None, 0))
    return BusinessReport(
        sessions=len(rows),
        mean_turns=sum(r["turns"] for r in rows) / len(rows),
        completion=_proportion([r["resolved"] for r in rows if "resolved" in r], confidence),
        mean_rating=mean_rating,
        csat=_proportion([x >= CSAT_THRESHOLD for x in ratings], confidence),
        thumbs_up=_proportion([_THUMBS[r["thumbs"]] for r in rows if r.get("thumbs") is not None], confidence),
        confidence=confidence,
        bad_rows=bad,
    )
