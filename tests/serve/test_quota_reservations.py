"""Daily token quotas hold under concurrency: requests reserve their worst case at admission."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from lmstack.serve.app import create_app
from lmstack.serve.errors import APIError
from lmstack.serve.keys import KeyInfo, KeyStore
from lmstack.serve.quota import TokenReservations
from lmstack.serve.usage import UsageLedger

MESSAGES = [{"role": "user", "content": "The model reads the report"}]
MAX_TOKENS = 5


class FixedLedger:
    def __init__(self, used: int):
        self.used = used

    def tokens_since(self, key_id: int, since: datetime) -> int:
        return self.used


def key(quota: int | None) -> KeyInfo:
    return KeyInfo(7, "k", "lms-x", datetime.now(UTC), None, quota, None)


def test_reservations_add_up_and_release():
    res = TokenReservations()
    ledger = FixedLedger(used=40)
    assert res.reserve(ledger, key(100), 30) == 30
    assert res.reserve(ledger, key(100), 30) == 30  # 40 used + 60 held = 100: exactly the quota
    with pytest.raises(APIError) as e:
        res.reserve(ledger, key(100), 1)
    assert e.value.status == 429 and e.value.code == "quota_exceeded"
    assert "0 left" in e.value.message and "40 used, 60 held by requests in flight" in e.value.message
    assert e.value.retry_after_s == 1  # fits once the requests in flight are done
    with pytest.raises(APIError) as e:
        res.reserve(ledger, key(100), 61)  # would not fit even alone: wait for the next UTC day
    assert e.value.retry_after_s > 1
    res.release(7, 30)
    assert res.held(7) == 30
    assert res.reserve(ledger, key(100), 30) == 30
    res.release(7, 60)
    assert res.held(7) == 0
    assert res.reserve(ledger, key(None), 10**9) == 0  # no quota: nothing is held


def test_concurrent_requests_cannot_overshoot_the_quota(registry, engine, database, start_server, tiny_tokenizer):
    prompt = tiny_tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    worst = len(tiny_tokenizer.encode(prompt, add_special_tokens=False)) + MAX_TOKENS
    quota = 3 * worst + worst // 2  # room for three requests in flight, not four
    created = KeyStore(database).create("tight", tokens_per_day=quota)
    engine.token_delay_s = 0.05  # every request is still running when the last one arrives
    app = create_app(registry, database=database)
    live = start_server(app)

    async def burst() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {created.secret}"}
        body = {"model": "tiny", "messages": MESSAGES, "temperature": 0, "max_tokens": MAX_TOKENS}
        async with httpx.AsyncClient(base_url=live.url, headers=headers, timeout=30) as c:
            return await asyncio.gather(*(c.post("/v1/chat/completions", json=body) for _ in range(10)))

    responses = asyncio.run(burst())
    reservations = app.state.services.reservations
    deadline = time.monotonic() + 10
    while reservations.held(created.info.id) and time.monotonic() < deadline:
        time.sleep(0.01)  # a response goes out before its ledger row is written and its reservation released
    assert reservations.held(created.info.id) == 0
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 3 + [429] * 7
    refused = next(r for r in responses if r.status_code == 429).json()["error"]
    assert refused["code"] == "quota_exceeded" and "held by requests in flight" in refused["message"]
    rows = [r for r in UsageLedger(database).rows() if r.key_id == created.info.id]
    assert len(rows) == 10 and sum(r.prompt_tokens + r.completion_tokens for r in rows) == 3 * worst <= quota


def test_omitted_max_tokens_reserves_the_rest_of_the_context(registry, database):
    created = KeyStore(database).create("small", tokens_per_day=100)  # FakeEngine's context is 128 tokens
    headers = {"Authorization": f"Bearer {created.secret}"}
    with TestClient(create_app(registry, database=database)) as c:
        r = c.post("/v1/chat/completions", headers=headers, json={"model": "tiny", "messages": MESSAGES})
        assert r.status_code == 429 and "lower max_tokens" in r.json()["error"]["message"]
        ok = c.post("/v1/chat/completions", headers=headers,
                    json={"model": "tiny", "messages": MESSAGES, "max_tokens": MAX_TOKENS})
        assert ok.status_code == 200
        emb = c.post("/v1/embeddings", headers=headers, json={"model": "hash-embed", "input": ["word " * 90]})
        assert emb.status_code == 429  # 90 tokens no longer fit beside the chat's usage
    assert [r.status for r in UsageLedger(database).rows()] == [429, 200, 429]
