"""The usage ledger: one row per API request, and reports over it.

    >>> ledger = UsageLedger(open_database("sqlite:///:memory:"))    # doctest: +SKIP
    >>> ledger.report(by=("key", "model", "day"))                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lmstack.errors import UserError
from lmstack.serve.db.tables import ApiKey, UsageRow

GROUPS = ("key", "model", "day")


@dataclass(frozen=True)
class UsageRecord:
    key_id: int | None
    route: str
    model: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    status: int


def start_of_day(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class UsageLedger:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def record(self, rec: UsageRecord) -> None:
        with Session(self.engine) as s, s.begin():
            s.add(UsageRow(created_at=datetime.now(UTC), **rec.__dict__))

    def tokens_since(self, key_id: int, since: datetime) -> int:
        q = sa.select(sa.func.coalesce(sa.func.sum(UsageRow.prompt_tokens + UsageRow.completion_tokens), 0)).where(
            UsageRow.key_id == key_id, UsageRow.created_at >= since)
        with Session(self.engine) as s:
            return int(s.scalar(q) or 0)

    def rows(self) -> list[UsageRow]:
        with Session(self.engine) as s:
            return list(s.scalars(sa.select(UsageRow).order_by(UsageRow.id)))

    def report(self, by: Sequence[str] = GROUPS, days: int | None = None) -> list[dict]:
        """Requests and tokens grouped by any of key / model / day (UTC), newest day first."""
        unknown = [g for g in by if g not in GROUPS]
        if unknown:
            raise UserError(f"cannot group usage by {unknown}", hint=f"choose from {', '.join(GROUPS)}")
        if self.engine.dialect.name == "postgresql":  # the session's time zone must not move the day
            day = sa.func.to_char(sa.func.timezone("UTC", UsageRow.created_at), "YYYY-MM-DD")
        else:  # SQLite stores the UTC wall time as ISO text
            day = sa.func.substr(sa.cast(UsageRow.created_at, sa.String), 1, 10)
        cols = {"key": sa.func.coalesce(ApiKey.name, "(none)"), "model": sa.func.coalesce(UsageRow.model, "-"),
                "day": day}
        keys = [cols[g].label(g) for g in by]
        q = (sa.select(*keys, sa.func.count().label("requests"),
                       sa.func.sum(UsageRow.prompt_tokens).label("prompt_tokens"),
                       sa.func.sum(UsageRow.completion_tokens).label("completion_tokens"),
                       sa.func.sum(sa.case((UsageRow.status >= 400, 1), else_=0)).label("errors"))
             .select_from(UsageRow).outerjoin(ApiKey, ApiKey.id == UsageRow.key_id))
        if days is not None:
            q = q.where(UsageRow.created_at >= start_of_day(datetime.now(UTC)) - timedelta(days=days - 1))
        if by:
            q = q.group_by(*keys).order_by(*[sa.desc(k) if k.name == "day" else k for k in keys])
        with Session(self.engine) as s:
            return [dict(r._mapping) for r in s.execute(q)]
