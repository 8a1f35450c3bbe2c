"""API keys, the usage ledger, quotas and rate limits, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from lmstack.errors import UserError
from lmstack.serve.app import create_app
from lmstack.serve.db.tables import ApiKey
from lmstack.serve.keys import PREFIX_CHARS, KeyStore
from lmstack.serve.usage import UsageLedger

CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "temperature": 0, "max_tokens": 5}
ROUTES = [
    ("post", "/v1/chat/completions", CHAT),
    ("post", "/v1/completions", {"model": "tiny", "prompt": "hi", "max_tokens": 2}),
    ("post", "/v1/embeddings", {"model": "hash-embed", "input": "hi"}),
    ("get", "/v1/models", None),
    ("post", "/tokenize", {"model": "tiny", "prompt": "hi"}),
    ("post", "/detokenize", {"model": "tiny", "tokens": [5]}),
    ("get", "/metrics", None),
]


def call(client, method, path, body, key=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return getattr(client, method)(path, headers=headers, **({"json": body} if body is not None else {}))


def test_keys_are_stored_hashed_with_a_salt(database):
    store = KeyStore(database)
    a, b = store.create("team-a"), store.create("team-b", tokens_per_day=10)
    assert a.secret.startswith("lms-") and a.info.prefix == a.secret[:PREFIX_CHARS]
    with database.connect() as conn:
        rows = conn.execute(sa.select(ApiKey.salt, ApiKey.key_hash, ApiKey.prefix)).all()
    for (salt, key_hash, _), created in zip(rows, (a, b)):
        assert key_hash == hashlib.sha256((salt + created.secret).encode()).hexdigest()
        assert created.secret not in (salt, key_hash)
    assert rows[0].salt != rows[1].salt
    assert store.verify(a.secret).name == "team-a"
    assert store.verify(a.secret[:-1] + "x") is None
    assert [k.name for k in store.list()] == ["team-a", "team-b"]
    store.revoke(str(a.info.id))
    assert store.verify(a.secret) is None
    assert [k.name for k in store.list(include_revoked=False)] == ["team-b"]
    with pytest.raises(UserError):
        store.revoke("nobody")


def test_every_route_but_health_needs_a_key_once_one_exists(registry, database):
    with TestClient(create_app(registry, database=database)) as c:
        for method, path, body in ROUTES:  # no key exists yet: open
            assert call(c, method, path, body).status_code == 200, path
        key = KeyStore(database).create("team-a").secret
        for method, path, body in ROUTES:
            for bad in (None, "lms-wrong", key + "x"):
                r = call(c, method, path, body, bad)
                assert r.status_code == 401, (path, bad)
                assert r.json()["error"]["code"] == "invalid_api_key"
            assert call(c, method, path, body, key).status_code == 200, path
        assert c.get("/health").status_code == 200
        r = c.get("/v1/models", headers={"Authorization": f"Basic {key}"})
        assert r.status_code == 401


def test_ledger_row_per_request(registry, engine, database):
    store = KeyStore(database)
    key = store.create("team-a")
    with TestClient(create_app(registry, database=database)) as c:
        ok = call(c, "post", "/v1/chat/completions", CHAT, key.secret).json()
        call(c, "post", "/v1/chat/completions", {**CHAT, "stream": True}, key.secret)
        call(c, "post", "/v1/chat/completions", {**CHAT, "model": "nope"}, key.secret)
        engine.max_running = 0
        call(c, "post", "/v1/chat/completions", CHAT, key.secret)  # queue full: 429, no tokens charged
        call(c, "get", "/v1/models", None)  # no key: 401, ledgered without one
        c.get("/health")
    rows = UsageLedger(database).rows()
    assert [(r.key_id, r.route, r.model, r.status) for r in rows] == [
        (key.info.id, "/v1/chat/completions", "tiny", 200),
        (key.info.id, "/v1/chat/completions", "tiny", 200),
        (key.info.id, "/v1/chat/completions", None, 404),
        (key.info.id, "/v1/chat/completions", "tiny", 429),
        (None, "/v1/models", None, 401),
    ]
    assert (rows[3].prompt_tokens, rows[3].completion_tokens) == (0, 0)
    assert (rows[0].prompt_tokens, rows[0].completion_tokens) == (ok["usage"]["prompt_tokens"], 5)
    assert (rows[1].prompt_tokens, rows[1].completion_tokens) == (ok["usage"]["prompt_tokens"], 5)
    report = UsageLedger(database).report(by=("key", "model"))
    assert {(r["key"], r["model"]): (r["requests"], r["completion_tokens"], r["errors"]) for r in report} == {
        ("team-a", "tiny"): (3, 10, 1), ("team-a", "-"): (1, 0, 1), ("(none)", "-"): (1, 0, 1)}
    by_day = UsageLedger(database).report(by=("day",), days=1)
    assert len(by_day) == 1 and by_day[0]["requests"] == 5 and len(by_day[0]["day"]) == 10


def test_daily_token_quota_answers_429(registry, database):
    key = KeyStore(database).create("small", tokens_per_day=30)
    with TestClient(create_app(registry, database=database)) as c:
        statuses = [call(c, "post", "/v1/chat/completions", CHAT, key.secret).status_code for _ in range(4)]
        r = call(c, "post", "/v1/chat/completions", CHAT, key.secret)
    used_per_request = UsageLedger(database).rows()[0]
    per = used_per_request.prompt_tokens + used_per_request.completion_tokens
    allowed = 30 // per  # a request starts only if its worst case (prompt + max_tokens) still fits
    assert statuses == [200] * allowed + [429] * (4 - allowed)
    assert r.status_code == 429 and r.json()["error"]["code"] == "quota_exceeded"
    assert 1 <= int(r.headers["retry-after"]) <= 86400


def test_rate_limit_answers_429(registry, database):
    key = KeyStore(database).create("burst", requests_per_minute=2)
    with TestClient(create_app(registry, database=database)) as c:
        codes = [call(c, "get", "/v1/models", None, key.secret).status_code for _ in range(3)]
        r = call(c, "get", "/v1/models", None, key.secret)
    assert codes == [200, 200, 429]
    assert r.json()["error"]["code"] == "rate_limit_exceeded" and 1 <= int(r.headers["retry-after"]) <= 60
