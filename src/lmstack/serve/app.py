"""`create_app`: the one place that assembles the server from its routers and services.

    >>> from lmstack.serve.testing import FakeEngine
    >>> registry = ModelRegistry()
    >>> registry.add_generator("fake", FakeEngine(), tokenizer=None)
    >>> app = create_app(registry)
    >>> sorted(p for p in app.openapi()["paths"] if p.startswith("/v1"))
    ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/models']

With `database` (an SQLAlchemy engine from `open_database`) the server meters usage and, once any
key exists, requires one on every route but /health.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import Depends, FastAPI

from lmstack import __version__
from lmstack.serve.api import chat, completions, embeddings, health, metrics, models, tokenize
from lmstack.serve.api.deps import require_key
from lmstack.serve.errors import install_error_handlers
from lmstack.serve.keys import KeyStore
from lmstack.serve.limits import Limits
from lmstack.serve.metrics import ServeMetrics
from lmstack.serve.middleware import ServeMiddleware
from lmstack.serve.registry import ModelRegistry
from lmstack.serve.services import Services
from lmstack.serve.usage import UsageLedger


def create_app(registry: ModelRegistry, *, limits: Limits | None = None, database: sa.Engine | None = None,
               drain_timeout_s: float = 30.0) -> FastAPI:
    services = Services(registry=registry, limits=limits or Limits(), metrics=ServeMetrics(registry),
                        keys=KeyStore(database) if database is not None else None,
                        ledger=UsageLedger(database) if database is not None else None)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for engine in registry.engines():
            await engine.start()
        yield
        services.draining = True
        await asyncio.gather(*(e.shutdown(drain_timeout_s) for e in registry.engines()))

    app = FastAPI(title="lmstack", version=__version__, lifespan=lifespan,
                  description="OpenAI-compatible Model-as-a-Service.")
    app.state.services = services
    install_error_handlers(app)
    keyed = [Depends(require_key)]
    for router in (chat.router, completions.router, embeddings.router, models.router, tokenize.router):
        app.include_router(router, dependencies=keyed)
    app.include_router(metrics.router, dependencies=keyed)
    app.include_router(health.router)
    app.add_middleware(ServeMiddleware, services=services)
    return app
