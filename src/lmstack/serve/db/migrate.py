"""Open the database and bring its schema up to date (Alembic `upgrade head`) before serving.

    >>> engine = open_database("sqlite:///:memory:")       # doctest: +SKIP

The URL comes from `--db-url`, else LMSTACK_DB_URL, else a SQLite file; PostgreSQL works with
`postgresql+psycopg://user@host/db`.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from lmstack.errors import UserError

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_SQLITE = "lmstack-serve.db"


def resolve_db_url(db_url: str | None, default_dir: str | Path = ".") -> str:
    """--db-url, else LMSTACK_DB_URL, else a SQLite file in `default_dir`."""
    return db_url or os.environ.get("LMSTACK_DB_URL") or f"sqlite:///{Path(default_dir) / DEFAULT_SQLITE}"


def open_database(url: str) -> sa.Engine:
    try:
        engine = sa.create_engine(url, pool_pre_ping=True)
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except (sa.exc.ArgumentError, sa.exc.OperationalError, ModuleNotFoundError) as e:
        raise UserError(f"cannot open the database {_redact(url)}: {e.__class__.__name__}: {str(e).splitlines()[0]}",
                        hint="check --db-url / LMSTACK_DB_URL (sqlite:///path.db or "
                             "postgresql+psycopg://user@host:5432/db)") from e
    return engine


def _redact(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True) if "://" in url else url
