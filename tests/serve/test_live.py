"""The official `openai` client against a real uvicorn server on 127.0.0.1 (FakeEngine behind it)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import openai
import pytest

from lmstack.serve.app import create_app
from lmstack.serve.embeddings import MINILM_NAME, SentenceEmbedder
from lmstack.serve.keys import KeyStore
from lmstack.serve.limits import Limits

MESSAGES = [{"role": "user", "content": "Our team translates the report. Reply in JSON."}]


@pytest.fixture(scope="module")
def minilm():
    return SentenceEmbedder.bundled_minilm()


@pytest.fixture
def live(registry, minilm, database, start_server):
    registry.add_embedder(MINILM_NAME, minilm)
    app = create_app(registry, database=database, limits=Limits(max_body_bytes=4096))
    return start_server(app)


@pytest.fixture
def db_url(tmp_path):  # SQLite only here: the PostgreSQL paths are covered by test_maas.py
    return f"sqlite:///{tmp_path / 'serve.db'}"


def client_for(live, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=live.url + "/v1", api_key=key, max_retries=0, timeout=10)


def test_openai_client_chat_completions_stream_n_stop_seed(live, engine, tiny_tokenizer):
    c = client_for(live)
    chat = c.chat.completions.create(model="tiny", messages=MESSAGES, temperature=0, max_tokens=10)
    assert chat.choices[0].finish_reason == "length" and chat.usage.completion_tokens == 10
    chunks = list(c.chat.completions.create(model="tiny", messages=MESSAGES, temperature=0, max_tokens=10,
                                            stream=True, stream_options={"include_usage": True}))
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == chat.choices[0].message.content
    assert chunks[-1].usage.total_tokens == chat.usage.total_tokens

    comp = c.completions.create(model="tiny", prompt="The teacher", temperature=0, max_tokens=6)
    streamed = "".join(ch.choices[0].text for ch in c.completions.create(
        model="tiny", prompt="The teacher", temperature=0, max_tokens=6, stream=True))
    assert streamed == comp.choices[0].text

    seeded = [c.chat.completions.create(model="tiny", messages=MESSAGES, temperature=1, seed=s, n=2, max_tokens=8)
              for s in (5, 5, 6)]
    texts = [[ch.message.content for ch in r.choices] for r in seeded]
    assert texts[0] == texts[1] != texts[2] and len(set(texts[0])) == 2

    engine.reply_ids = tiny_tokenizer.encode('{"day": 7} and more', add_special_tokens=False) + [3]
    stopped = c.chat.completions.create(model="tiny", messages=MESSAGES, stop=[" and"], max_tokens=50)
    assert stopped.choices[0].message.content == '{"day": 7}' and stopped.choices[0].finish_reason == "stop"
    as_json = c.chat.completions.create(model="tiny", messages=MESSAGES, stop=[" and"], max_tokens=50,
                                        response_format={"type": "json_object"})
    assert json.loads(as_json.choices[0].message.content) == {"day": 7}
    assert [m.id for m in c.models.list()] == ["tiny", "hash-embed", MINILM_NAME]


def test_openai_client_embeddings_with_the_bundled_minilm(live):
    c = client_for(live)
    out = c.embeddings.create(model=MINILM_NAME, input=["A cat sits on the mat.", "A kitten rests on a rug.",
                                                        "Quarterly tax filing deadline."])
    vecs = [d.embedding for d in out.data]
    assert len(vecs[0]) == 384 and math.isclose(sum(x * x for x in vecs[0]), 1.0, rel_tol=1e-4)

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b))

    assert cos(vecs[0], vecs[1]) > cos(vecs[0], vecs[2]) + 0.2
    assert out.usage.prompt_tokens > 0


def test_openai_client_error_classes(live, engine, database):
    c = client_for(live)
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model="nope", messages=MESSAGES)
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="tiny", messages=MESSAGES, n=50)
    assert e.value.body["param"] == "n"
    with pytest.raises(openai.APIStatusError) as e:
        c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "x" * 5000}])
    assert e.value.status_code == 413
    engine.max_running = 0
    with pytest.raises(openai.RateLimitError) as e:
        c.chat.completions.create(model="tiny", messages=MESSAGES)
    assert e.value.response.headers["retry-after"] == "1"
    engine.max_running, engine.draining = None, True
    with pytest.raises(openai.InternalServerError) as e:
        c.chat.completions.create(model="tiny", messages=MESSAGES)
    assert e.value.status_code == 503
    engine.draining = False
    key = KeyStore(database).create("live").secret
    with pytest.raises(openai.AuthenticationError):
        c.models.list()
    assert len(client_for(live, key).models.list().data) == 3


def test_client_disconnect_aborts_the_engine_request(live, engine):
    engine.token_delay_s = 0.05
    body = {"model": "tiny", "messages": MESSAGES, "max_tokens": 100, "stream": True}
    with httpx.Client(timeout=10) as http, http.stream("POST", live.url + "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        next(r.iter_lines())
    deadline = time.monotonic() + 3
    while not engine.aborted and time.monotonic() < deadline:
        time.sleep(0.02)
    assert engine.aborted == [engine.requests[0].request_id]
    assert not engine.running

    engine.aborted.clear()  # the same for a non-streamed request
    with httpx.Client(timeout=0.3) as http, pytest.raises(httpx.ReadTimeout):
        http.post(live.url + "/v1/chat/completions", json={**body, "stream": False})
    deadline = time.monotonic() + 3
    while not engine.aborted and time.monotonic() < deadline:
        time.sleep(0.02)
    assert engine.aborted == [engine.requests[1].request_id]


DRAIN_SCRIPT = """
import sys
from transformers import AutoTokenizer
from lmstack.serve.app import create_app
from lmstack.serve.registry import ModelRegistry
from lmstack.serve.server import run_server
from lmstack.serve.testing import FakeEngine

registry = ModelRegistry()
registry.add_generator("tiny", FakeEngine("tiny", token_delay_s=0.05), AutoTokenizer.from_pretrained(sys.argv[1]))
run_server(create_app(registry), port=int(sys.argv[2]), drain_timeout_s=5)
"""


@pytest.mark.slow  # a fresh interpreter imports transformers and uvicorn: ~10 s on 2 busy cores
def test_sigterm_drains_in_flight_requests_then_exits(tiny_tokenizer_dir, free_port):
    port = free_port
    proc = subprocess.Popen([sys.executable, "-c", DRAIN_SCRIPT, str(tiny_tokenizer_dir), str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read().decode()
                time.sleep(0.1)
        result = {}

        def slow_request():
            result["r"] = httpx.post(url + "/v1/completions", timeout=10,
                                     json={"model": "tiny", "prompt": "hi", "max_tokens": 20, "temperature": 0})

        t = threading.Thread(target=slow_request)
        t.start()
        time.sleep(0.3)  # the request is generating (20 tokens × 50 ms)
        proc.send_signal(signal.SIGTERM)
        t.join(10)
        assert result["r"].status_code == 200
        assert result["r"].json()["choices"][0]["finish_reason"] == "length"
        assert proc.wait(10) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has drained
        assert b"Finished server process" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
