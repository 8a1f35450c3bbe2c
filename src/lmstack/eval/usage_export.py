"""The server's usage ledger as an interaction log that `business_metrics` reads.

    lmstack eval export-usage --db-url sqlite:///lmstack-serve.db --out sessions.jsonl
    lmstack eval business sessions.jsonl

What a session is: the ledger stores one row per API request and no end-user field (the OpenAI
`user` parameter is not recorded), so a session is chosen with `session_by`:

* `request` (default): one session per request; session_id `request-<ledger row id>`, turns 1.
* `key`: one session per API key (the closest thing to a user the ledger has); turns = requests.
* `key-day`: one session per API key per UTC day.

Requests made without a key fall in the key `none`. Each session line carries
`{"session_id", "turns", "model", "route", "started", "ended", "prompt_tokens",
"completion_tokens", "latency_ms", "errors", "source": "usage-ledger"}`.

What is absent: the ledger knows nothing of whether the user's problem was solved or how they
rated the answer, so the lines have no `resolved`, `rating` or `thumbs`. `business_metrics`
counts each rate only over sessions that carry its field, so completion and satisfaction come
out as "no sessions carry it" — an unknown outcome is never counted as a success or a failure,
and an HTTP 200 is not taken to mean "resolved". Join ratings from your feedback store onto
these lines by session_id to get those rates; `errors` (requests with status ≥ 400) is kept so
that failures stay visible.

The database is only read: no migration is run against it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from lmstack.atomic import write_jsonl
from lmstack.errors import UserError
from lmstack.serve.db.tables import UsageRow
from lmstack.serve.usage import UsageLedger

SessionBy = Literal["request", "key", "key-day"]
SESSION_BY: tuple[str, ...] = ("request", "key", "key-day")
_DB_HINT = "check --db-url (sqlite:///lmstack-serve.db or postgresql+psycopg://user@host:5432/db)"


@dataclass(frozen=True)
class UsageExport:
    path: Path
    requests: int
    sessions: int


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)  # SQLite drops the zone


def _session_id(row: UsageRow, session_by: str) -> str:
    key = "none" if row.key_id is None else str(row.key_id)
    if session_by == "request":
        return f"request-{row.id}"
    if session_by == "key":
        return f"key-{key}"
    return f"key-{key}-{_utc(row.created_at):%Y-%m-%d}"


def usage_sessions(rows: Iterable[UsageRow], session_by: SessionBy = "request") -> list[dict[str, Any]]:
    """Ledger rows grouped into interaction-log sessions (see the module docstring), oldest first."""
    if session_by not in SESSION_BY:
        raise UserError(f"cannot make sessions by {session_by!r}", hint=f"choose from {', '.join(SESSION_BY)}")
    sessions: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        sid = _session_id(row, session_by)
        at = _utc(row.created_at).isoformat()
        s = sessions.setdefault(sid, {"session_id": sid, "turns": 0, "model": row.model, "route": row.route,
                                      "started": at, "ended": at, "prompt_tokens": 0, "completion_tokens": 0,
                                      "latency_ms": 0, "errors": 0, "source": "usage-ledger"})
        s["turns"] += 1
        s["ended"] = at
        s["prompt_tokens"] += row.prompt_tokens
        s["completion_tokens"] += row.completion_tokens
        s["latency_ms"] += row.latency_ms
        s["errors"] += int(row.status >= 400)
        if s["model"] != row.model:
            s["model"] = None  # a session that spans models belongs to none of them
        if s["route"] != row.route:
            s["route"] = None
    return list(sessions.values())


def export_usage(db_url: str, out: str | os.PathLike, *, session_by: SessionBy = "request",
                 model: str | None = None) -> UsageExport:
    """Write the ledger (only `model`'s requests when given) as JSON-lines sessions to `out`."""
    try:
        url = sa.make_url(db_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
                and not Path(url.database).is_file():  # connecting would create an empty file
            raise UserError(f"SQLite database {url.database!r} does not exist", hint=_DB_HINT)
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, ModuleNotFoundError) as e:
        raise UserError(f"cannot open the database: {e.__class__.__name__}: {str(e).splitlines()[0]}",
                        hint=_DB_HINT) from None
    try:
        if not sa.inspect(engine).has_table(UsageRow.__tablename__):
            raise UserError(f"the database has no {UsageRow.__tablename__!r} table",
                            hint="point --db-url at the database `lmstack serve` writes its usage ledger to")
        rows = [r for r in UsageLedger(engine).rows() if model is None or r.model == model]
    except sa.exc.OperationalError as e:
        raise UserError(f"cannot read the database: {str(e.orig or e).splitlines()[0]}", hint=_DB_HINT) from None
    finally:
        engine.dispose()
    sessions = usage_sessions(rows, session_by)
    write_jsonl(out, sessions)
    return UsageExport(Path(out), len(rows), len(sessions))
