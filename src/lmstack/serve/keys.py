"""API keys: created once (the secret is shown only then), stored as a salted sha256, revocable.

    >>> store = KeyStore(open_database("sqlite:///:memory:"))        # doctest: +SKIP
    >>> created = store.create("team-a", tokens_per_day=100_000)     # doctest: +SKIP
    >>> store.verify(created.secret).name                            # doctest: +SKIP
    'team-a'

A key looks like `lms-<12 visible chars><rest>`; its first 16 characters (the prefix) are stored in
clear to find the row and to show in listings; the rest is only ever compared as a hash, with
`hmac.compare_digest` so the comparison takes the same time wherever the bytes differ. A random
salt per key means equal keys never hash alike and precomputed tables are useless.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lmstack.errors import UserError
from lmstack.serve.db.tables import ApiKey

KEY_PREFIX = "lms-"
PREFIX_CHARS = 16


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    tokens_per_day: int | None
    requests_per_minute: int | None


@dataclass(frozen=True)
class CreatedKey:
    info: KeyInfo
    secret: str  # shown once; never stored


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256((salt + secret).encode()).hexdigest()


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.prefix, row.created_at, row.revoked_at, row.tokens_per_day,
                   row.requests_per_minute)


class KeyStore:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def create(self, name: str, *, tokens_per_day: int | None = None,
               requests_per_minute: int | None = None) -> CreatedKey:
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        row = ApiKey(name=name, prefix=secret[:PREFIX_CHARS], salt=salt, key_hash=_hash(salt, secret),
                     created_at=datetime.now(UTC), tokens_per_day=tokens_per_day,
                     requests_per_minute=requests_per_minute)
        with Session(self.engine) as s, s.begin():
            s.add(row)
            s.flush()
            info = _info(row)
        return CreatedKey(info, secret)

    def list(self, include_revoked: bool = True) -> list[KeyInfo]:
        q = sa.select(ApiKey).order_by(ApiKey.id)
        if not include_revoked:
            q = q.where(ApiKey.revoked_at.is_(None))
        with Session(self.engine) as s:
            return [_info(r) for r in s.scalars(q)]

    def revoke(self, key: str) -> KeyInfo:
        """Revoke by id, name or prefix; a revoked key answers 401 from the next request on."""
        with Session(self.engine) as s, s.begin():
            cond = [ApiKey.name == key, ApiKey.prefix == key]
            if key.isdigit():
                cond.append(ApiKey.id == int(key))
            rows = list(s.scalars(sa.select(ApiKey).where(sa.or_(*cond), ApiKey.revoked_at.is_(None))))
            if len(rows) != 1:
                raise UserError(f"{len(rows)} active keys match {key!r}",
                                hint="give the id or prefix shown by `lmstack keys list`")
            rows[0].revoked_at = datetime.now(UTC)
            return _info(rows[0])

    def any_active(self) -> bool:
        with Session(self.engine) as s:
            return s.scalar(sa.select(sa.exists().where(ApiKey.revoked_at.is_(None)))) or False

    def verify(self, secret: str) -> KeyInfo | None:
        """The active key this secret belongs to, or None."""
        with Session(self.engine) as s:
            rows = list(s.scalars(sa.select(ApiKey).where(ApiKey.prefix == secret[:PREFIX_CHARS],
                                                          ApiKey.revoked_at.is_(None))))
        found = None
        for row in rows:
            if hmac.compare_digest(_hash(row.salt, secret), row.key_hash):
                found = row
        return _info(found) if found else None
