"""The OpenAI API against a FakeEngine, through FastAPI's TestClient."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from lmstack.serve.app import create_app
from lmstack.serve.limits import Limits

CHAT = {"model": "tiny", "messages": [{"role": "user", "content": "The model reads the report"}],
        "temperature": 0, "max_tokens": 12}


def assert_error(resp, status: int, code: str | None = None, param: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert "Traceback" not in err["message"]
    if code is not None:
        assert err["code"] == code
    if param is not None:
        assert err["param"] == param
    return err


def sse_events(resp) -> list[dict]:
    lines = [line for line in resp.text.split("\n\n") if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[6:]) for line in lines[:-1]]


def test_chat_uses_the_chat_template_and_reports_usage(client, engine, tiny_tokenizer):
    r = client.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 200, r.text
    body = r.json()
    prompt = tiny_tokenizer.apply_chat_template(CHAT["messages"], tokenize=False, add_generation_prompt=True)
    sent = engine.requests[0]
    assert sent.prompt_token_ids == tiny_tokenizer.encode(prompt, add_special_tokens=False)
    assert sent.params.max_tokens == 12 and sent.params.temperature == 0
    assert tiny_tokenizer.convert_tokens_to_ids("<|im_end|>") in sent.params.stop_token_ids
    expected = tiny_tokenizer.decode(engine.token_ids(sent)[:12], skip_special_tokens=True)
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": expected}
    assert choice["finish_reason"] == "length"
    assert body["usage"] == {"prompt_tokens": len(sent.prompt_token_ids), "completion_tokens": 12,
                             "total_tokens": len(sent.prompt_token_ids) + 12}


def test_fixed_reply_ends_with_stop(client, engine, tiny_tokenizer):
    engine.reply_ids = tiny_tokenizer.encode("on day 7.", add_special_tokens=False) + [3]
    r = client.post("/v1/chat/completions", json=CHAT).json()
    assert r["choices"][0]["message"]["content"] == "on day 7."
    assert r["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("route,body", [
    ("/v1/chat/completions", CHAT),
    ("/v1/completions", {"model": "tiny", "prompt": "The teacher writes", "temperature": 0, "max_tokens": 10}),
])
def test_stream_concatenates_to_the_non_streamed_text(client, route, body):
    whole = client.post(route, json=body).json()
    streamed = client.post(route, json={**body, "stream": True, "stream_options": {"include_usage": True}})
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = sse_events(streamed)
    key = "message" if "messages" in body else None
    if key:
        text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
        assert text == whole["choices"][0]["message"]["content"]
        assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    else:
        text = "".join(e["choices"][0]["text"] for e in events if e["choices"])
        assert text == whole["choices"][0]["text"]
    finishes = [c["finish_reason"] for e in events for c in e["choices"] if c["finish_reason"]]
    assert finishes == ["length"]
    assert events[-1]["choices"] == [] and events[-1]["usage"] == whole["usage"]


@pytest.mark.parametrize("route,body", [
    ("/v1/chat/completions", {**CHAT, "n": 2, "logprobs": True, "top_logprobs": 2}),
    ("/v1/completions", {"model": "tiny", "prompt": "The teacher", "max_tokens": 4, "logprobs": 1, "echo": True}),
])
def test_streamed_chunks_are_exactly_the_schema(client, route, body):
    """Chunks are built as plain dicts for speed: each must equal its pydantic schema's own dump."""
    from lmstack.serve.protocol import ChatCompletionChunk, Completion

    events = sse_events(client.post(route, json={**body, "stream": True, "stream_options": {"include_usage": True}}))
    assert len(events) > 3
    for e in events:
        if "messages" in body:
            dumped = ChatCompletionChunk.model_validate(e).model_dump(exclude_none=True)
            for c in dumped["choices"]:
                c.setdefault("finish_reason", None)
        else:
            model = Completion.model_validate(e)
            dumped = model.model_dump(exclude_none=True) | {"choices": [c.model_dump() for c in model.choices]}
        assert e == dumped
    assert any(c.get("logprobs") for e in events for c in e["choices"])


def test_n_choices_with_a_seed_are_distinct_and_reproducible(client, engine):
    body = {**CHAT, "n": 3, "temperature": 0.8, "seed": 11}
    first = client.post("/v1/chat/completions", json=body).json()
    again = client.post("/v1/chat/completions", json=body).json()
    texts = [c["message"]["content"] for c in first["choices"]]
    assert [c["index"] for c in first["choices"]] == [0, 1, 2]
    assert len(set(texts)) == 3
    assert texts == [c["message"]["content"] for c in again["choices"]]
    assert [r.params.seed for r in engine.requests[:3]] == [11, 12, 13]
    assert first["usage"]["completion_tokens"] == 3 * 12
    other = client.post("/v1/chat/completions", json={**body, "seed": 12}).json()
    assert other["choices"][0]["message"]["content"] != texts[0]


def test_stop_string_trims_the_text_and_aborts_the_engine(client, engine, tiny_tokenizer):
    engine.reply_ids = tiny_tokenizer.encode("Our team checks the report on day 9.", add_special_tokens=False)
    body = {**CHAT, "max_tokens": 50, "stop": ["report", "never"]}
    r = client.post("/v1/chat/completions", json=body).json()
    assert r["choices"][0]["message"]["content"] == "Our team checks the "
    assert r["choices"][0]["finish_reason"] == "stop"
    assert engine.aborted == [engine.requests[0].request_id]
    events = sse_events(client.post("/v1/chat/completions", json={**body, "stream": True}))
    streamed = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
    assert streamed == "Our team checks the "


def test_logprobs_chat_and_completions(client):
    r = client.post("/v1/chat/completions", json={**CHAT, "max_tokens": 3, "logprobs": True, "top_logprobs": 2})
    content = r.json()["choices"][0]["logprobs"]["content"]
    assert len(content) == 3
    assert content[0]["logprob"] == -0.5 and [t["logprob"] for t in content[0]["top_logprobs"]] == [-0.5, -1.5]
    c = client.post("/v1/completions", json={"model": "tiny", "prompt": "hi", "max_tokens": 3, "logprobs": 2,
                                             "temperature": 0}).json()["choices"][0]
    assert c["logprobs"]["token_logprobs"] == [-0.5] * 3
    assert c["logprobs"]["text_offset"][0] == 0 and len(c["logprobs"]["top_logprobs"][0]) == 2


def test_json_mode(client, engine, tiny_tokenizer, monkeypatch):
    body = {**CHAT, "max_tokens": 40, "response_format": {"type": "json_object"},
            "messages": [{"role": "user", "content": "Answer in JSON."}]}
    engine.reply_ids = tiny_tokenizer.encode('{"day": 7}', add_special_tokens=False) + [3]
    r = client.post("/v1/chat/completions", json=body)
    assert json.loads(r.json()["choices"][0]["message"]["content"]) == {"day": 7}
    # The fake engine plans "day 7"; the constraint turns it into an object, streamed or not.
    engine.reply_ids = tiny_tokenizer.encode("day 7", add_special_tokens=False) + [3]
    reply = client.post("/v1/chat/completions", json=body).json()["choices"][0]
    assert isinstance(json.loads(reply["message"]["content"]), dict) and reply["finish_reason"] == "stop"
    events = sse_events(client.post("/v1/chat/completions", json={**body, "stream": True}))
    streamed = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert streamed == reply["message"]["content"]
    # A processor that fails ends its request alone, as a 500 that says so.
    from lmstack.serve.engine.json_constraint import JsonObjectConstraint

    def broken(self, logits, remaining):
        raise RuntimeError("broken")

    monkeypatch.setattr(JsonObjectConstraint, "allowed", broken)
    assert_error(client.post("/v1/chat/completions", json=body), 500, "invalid_json_output", "response_format")
    events = sse_events(client.post("/v1/chat/completions", json={**body, "stream": True}))
    assert events[-1]["error"]["code"] == "invalid_json_output"
    monkeypatch.undo()
    assert client.post("/v1/chat/completions", json=body).status_code == 200
    no_word = {**body, "messages": [{"role": "user", "content": "hi"}]}
    assert_error(client.post("/v1/chat/completions", json=no_word), 400, param="response_format")
    assert_error(client.post("/v1/chat/completions", json={**body, "max_tokens": 1}), 400, param="max_tokens")
    schema = {**body, "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}}
    assert client.post("/v1/chat/completions", json=schema).status_code == 400


def test_completions_batch_prompts_echo_and_token_ids(client, tiny_tokenizer):
    r = client.post("/v1/completions", json={"model": "tiny", "prompt": ["a b", "c d"], "n": 2, "max_tokens": 2,
                                             "temperature": 0, "echo": True}).json()
    assert [c["index"] for c in r["choices"]] == [0, 1, 2, 3]
    assert r["choices"][0]["text"].startswith("a b") and r["choices"][2]["text"].startswith("c d")
    assert r["choices"][0]["text"] == r["choices"][1]["text"]  # greedy: same prompt, same text
    ids = tiny_tokenizer.encode("hello", add_special_tokens=False)
    r = client.post("/v1/completions", json={"model": "tiny", "prompt": ids, "max_tokens": 1}).json()
    assert r["usage"]["prompt_tokens"] == len(ids)


def test_max_tokens_is_clamped_to_the_context(client, engine):
    r = client.post("/v1/completions", json={"model": "tiny", "prompt": "x", "max_tokens": 10_000, "temperature": 0})
    assert r.status_code == 200
    assert engine.requests[0].params.max_tokens == 128 - len(engine.requests[0].prompt_token_ids)


@pytest.mark.parametrize("patch,param,code", [
    ({"n": 9}, "n", "n_too_large"),
    ({"stop": [f"s{i}" for i in range(9)]}, "stop", "too_many_stop_strings"),
    ({"stop": ["x" * 129]}, "stop", "invalid_stop"),
    ({"logprobs": True, "top_logprobs": 21}, "top_logprobs", "logprobs_too_large"),
    ({"temperature": 3}, "temperature", "invalid_value"),
    ({"messages": []}, "messages", "invalid_value"),
    ({"logit_bias": {"abc": 1}}, "logit_bias", "invalid_value"),
    ({"messages": [{"role": "user", "content": "day " * 200}]}, "messages", "context_length_exceeded"),
])
def test_bad_requests_answer_400(client, engine, patch, param, code):
    assert_error(client.post("/v1/chat/completions", json={**CHAT, **patch}), 400, code, param)
    assert engine.requests == []


def test_bad_json_unknown_model_and_route(client):
    assert_error(client.post("/v1/chat/completions", content=b"{not json",
                             headers={"content-type": "application/json"}), 400, "invalid_json")
    assert_error(client.post("/v1/chat/completions", json={**CHAT, "model": "nope"}), 404, "model_not_found", "model")
    assert_error(client.post("/v1/embeddings", json={"model": "tiny", "input": "x"}), 404, "model_not_found")
    assert_error(client.get("/v1/nothing"), 404)


def test_body_too_large_answers_413(registry):
    with TestClient(create_app(registry, limits=Limits(max_body_bytes=2048))) as c:
        big = {**CHAT, "messages": [{"role": "user", "content": "x" * 4000}]}
        assert_error(c.post("/v1/chat/completions", json=big), 413)

        def chunks():  # no Content-Length: the cap applies while the body streams in
            yield b'{"model": "tiny", "messages": [{"role": "user", "content": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}]}'
        assert_error(c.post("/v1/chat/completions", content=chunks(),
                            headers={"content-type": "application/json"}), 413)


def test_queue_full_answers_429_with_retry_after(client, engine):
    engine.max_running = 0
    r = client.post("/v1/chat/completions", json=CHAT)
    assert_error(r, 429, "queue_full")
    assert r.headers["retry-after"] == "1"


def test_draining_engine_answers_503(client, engine):
    engine.draining = True
    assert_error(client.post("/v1/chat/completions", json=CHAT), 503, "shutting_down")


def test_draining_server_answers_503_but_health_says_so(client):
    client.app.state.services.draining = True
    assert_error(client.get("/v1/models"), 503, "shutting_down")
    assert client.get("/health").status_code == 503


def test_models_embeddings_tokenize(client, tiny_tokenizer):
    models = client.get("/v1/models").json()
    assert [m["id"] for m in models["data"]] == ["tiny", "hash-embed"]
    e = client.post("/v1/embeddings", json={"model": "hash-embed", "input": ["ab c", "d"]}).json()
    assert [d["embedding"][0] for d in e["data"]] == [4.0, 1.0] and e["usage"]["prompt_tokens"] == 3
    t = client.post("/tokenize", json={"model": "tiny", "prompt": "The model"}).json()
    assert t["tokens"] == tiny_tokenizer.encode("The model", add_special_tokens=False)
    d = client.post("/detokenize", json={"model": "tiny", "tokens": t["tokens"]}).json()
    assert d["prompt"] == "The model"
    chat = client.post("/tokenize", json={"model": "tiny", "messages": CHAT["messages"]}).json()
    assert chat["tokens"][0] == tiny_tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert_error(client.post("/detokenize", json={"model": "tiny", "tokens": [10**6]}), 400, param="tokens")


def test_ignored_fields_are_logged(client, caplog):
    with caplog.at_level("WARNING"):
        r = client.post("/v1/chat/completions", json={**CHAT, "tools": [], "parallel_tool_calls": False})
    assert r.status_code == 200
    assert "ignoring fields lmstack does not honour: parallel_tool_calls, tools" in caplog.text


def test_metrics_expose_vllm_names(client):
    client.post("/v1/chat/completions", json=CHAT)
    text = client.get("/metrics").text
    for name in ["time_to_first_token_seconds", "inter_token_latency_seconds", "e2e_request_latency_seconds",
                 "request_queue_time_seconds", "prompt_tokens_total", "generation_tokens_total",
                 "num_requests_running", "num_requests_waiting", "kv_cache_usage_perc"]:
        assert f"lmstack:{name}" in text, name
    assert 'lmstack:generation_tokens_total{model_name="tiny"} 12.0' in text
    assert 'lmstack:time_to_first_token_seconds_count{model_name="tiny"} 1.0' in text
    assert 'lmstack:inter_token_latency_seconds_count{model_name="tiny"} 11.0' in text
    # One observation per choice, from the engine's first event (the fake engine reports 0 s).
    client.post("/v1/chat/completions", json={**CHAT, "n": 2})
    text = client.get("/metrics").text
    assert 'lmstack:request_queue_time_seconds_count{model_name="tiny"} 3.0' in text
    assert 'lmstack:request_queue_time_seconds_sum{model_name="tiny"} 0.0' in text


def test_each_app_has_its_own_metrics(registry):
    a, b = create_app(registry), create_app(registry)
    assert a.state.services.metrics.registry is not b.state.services.metrics.registry


def test_queue_full_for_one_of_n_choices_aborts_the_others(client, engine):
    engine.max_running = 2
    r = client.post("/v1/chat/completions", json={**CHAT, "n": 3})
    assert_error(r, 429, "queue_full")
    assert sorted(engine.aborted) == sorted(q.request_id for q in engine.requests) and len(engine.requests) == 2
