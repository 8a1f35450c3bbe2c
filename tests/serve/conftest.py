"""Fixtures for the HTTP side: a FakeEngine behind the tiny ChatML tokenizer, apps and clients."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient

from lmstack.serve.app import create_app
from lmstack.serve.db.migrate import open_database
from lmstack.serve.registry import ModelRegistry
from lmstack.serve.testing import FakeEngine


class HashEmbedder:
    """A deterministic stand-in for MiniLM: 4 numbers per text."""

    max_input_tokens = 16

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [[float(len(t)), float(sum(map(ord, t)) % 97), 1.0, 0.0] for t in texts]

    def count_tokens(self, texts: list[str]) -> int:
        return sum(len(t.split()) for t in texts)


@pytest.fixture
def engine(tiny_tokenizer) -> FakeEngine:
    return FakeEngine("tiny", vocab_size=len(tiny_tokenizer), max_context=128)


@pytest.fixture
def registry(engine, tiny_tokenizer) -> ModelRegistry:
    reg = ModelRegistry()
    reg.add_generator("tiny", engine, tiny_tokenizer)
    reg.add_embedder("hash-embed", HashEmbedder())
    return reg


@pytest.fixture
def client(registry):
    with TestClient(create_app(registry)) as c:
        yield c


def _postgres_url(base: str, schema: str) -> str:
    url = sa.make_url(base)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, migrated-on-open database: a SQLite file always, PostgreSQL when LMSTACK_TEST_DB_URL is set.

    PostgreSQL runs get a schema of their own, dropped afterwards, so parallel runs never collide.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'serve.db'}"
        return
    base = os.environ.get("LMSTACK_TEST_DB_URL")
    if not base:
        pytest.skip("LMSTACK_TEST_DB_URL is not set")
    schema = f"lmstack_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_url(base, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def database(db_url):
    engine = open_database(db_url)
    yield engine
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, app):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def start_server():
    """start_server(app) runs `app` under uvicorn on a free 127.0.0.1 port until the test ends."""
    servers: list[LiveServer] = []

    def start(app) -> LiveServer:
        servers.append(LiveServer(app).__enter__())
        return servers[-1]

    yield start
    for s in servers:
        s.__exit__(None, None, None)


@pytest.fixture
def free_port() -> int:
    return _free_port()
