"""The `serve` section of a project (step five)."""

from __future__ import annotations

from pydantic import Field

from lmstack.config.base import Section


class ServeSection(Section):
    host: str = Field("127.0.0.1", description="Bind address. Loopback by default; 0.0.0.0 exposes the server.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port.")
    db_url: str | None = Field(
        None, description="SQLAlchemy URL for API keys and usage. Default: a SQLite file in the run directory."
    )
    max_batch_size: int = Field(16, ge=1, description="Sequences decoded together by the engine.")
    max_queue: int = Field(256, ge=1, description="Requests waiting beyond this answer 429.")
