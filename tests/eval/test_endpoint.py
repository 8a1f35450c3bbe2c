"""The OpenAI-compatible endpoint runner against a tiny local HTTP server, and a closed port."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from lmstack.errors import UserError
from lmstack.eval.runners import EndpointRunner
from lmstack.eval.tasks import GenerationParams


class _FakeOpenAI(BaseHTTPRequestHandler):
    """Echoes prompts upper-cased; the first `fail_first` completions answer 503."""

    state: ClassVar[dict] = {}

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._send(200, {"object": "list", "data": [{"id": "fake-model", "object": "model", "created": 0, "owned_by": "me"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        state = self.state
        with state["lock"]:
            state["requests"] += 1
            state["in_flight"] += 1
            state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
            fail = state["fail_first"] > 0
            state["fail_first"] -= 1
        time.sleep(0.02)
        with state["lock"]:
            state["in_flight"] -= 1
        if fail:
            return self._send(503, {"error": {"message": "busy", "type": "server_error"}})
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        if self.path.endswith("/chat/completions"):
            text = body["messages"][-1]["content"].upper() + " STOP here"
            return self._send(200, {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"], "usage": usage,
                                    "choices": [{"index": 0, "finish_reason": "stop",
                                                 "message": {"role": "assistant", "content": text}}]})
        return self._send(200, {"id": "x", "object": "text_completion", "created": 0, "model": body["model"], "usage": usage,
                                "choices": [{"index": 0, "finish_reason": "stop", "text": body["prompt"].upper(), "logprobs": None}]})


@pytest.fixture
def server():
    _FakeOpenAI.state = {"lock": threading.Lock(), "requests": 0, "in_flight": 0, "max_in_flight": 0, "fail_first": 0}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", _FakeOpenAI.state
    httpd.shutdown()
    httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_endpoint_is_a_user_error():
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    with pytest.raises(UserError, match=rf"endpoint {url} is unreachable .*after 2 attempts") as info:
        EndpointRunner(url, retries=1, backoff_s=0.01, timeout_s=2)
    assert "lmstack serve" in info.value.hint


def test_concurrent_requests_with_retries_and_a_bound(server):
    url, state = server
    runner = EndpointRunner(url, concurrency=3, retries=3, backoff_s=0.01)
    assert runner.model == "fake-model"
    state["fail_first"] = 2
    prompts = [f"question {i}" for i in range(9)]
    answers = runner.generate(prompts, GenerationParams(max_new_tokens=8))
    assert answers == [p.upper() for p in prompts]
    assert state["requests"] == 9 + 2 and 1 < state["max_in_flight"] <= 3
    chat = runner.generate([[{"role": "user", "content": "hi"}]], GenerationParams(stop=[" STOP"]))
    assert chat == ["HI"]


def test_each_answer_is_reported_as_it_arrives(server):
    url, state = server
    runner = EndpointRunner(url, concurrency=2)
    sent_at_first_answer = []

    def on_answers(n):
        if not sent_at_first_answer:
            sent_at_first_answer.append(state["requests"])
        calls.append(n)

    calls: list[int] = []
    answers = runner.generate([f"q{i}" for i in range(8)], GenerationParams(), on_answers=on_answers)
    assert answers == [f"Q{i}" for i in range(8)] and calls == [1] * 8
    assert sent_at_first_answer[0] <= 3  # progress moved while most requests were still to be sent


def test_an_endpoint_that_keeps_failing_is_a_user_error(server):
    url, state = server
    runner = EndpointRunner(url, retries=1, backoff_s=0.01)
    state["fail_first"] = 10
    with pytest.raises(UserError, match="kept failing"):
        runner.generate(["x"], GenerationParams())
