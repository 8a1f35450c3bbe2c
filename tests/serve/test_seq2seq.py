"""Seq2seq (encoder-decoder) models on /v1/completions and /v1/chat/completions, through `Seq2SeqEngine`."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
import torch
from fastapi.testclient import TestClient

from lmstack.models.build import build_model
from lmstack.serve.app import create_app
from lmstack.serve.engine.base import EngineShuttingDown, GenerationRequest, QueueFull, SamplingParams
from lmstack.serve.engine.seq2seq_engine import Seq2SeqEngine, source_ids
from lmstack.serve.server import ModelSpec, build_registry, resolve_kind
from lmstack.train.seq2seq import encode

SOURCES = ["The model reads the report", "老师在第3天翻译客户邮件。", "Our team checks 42 invoices on day 9."]


@pytest.fixture(scope="module")
def marian(tmp_path_factory, tiny_tokenizer):
    tok = tiny_tokenizer
    model = build_model("seq2seq-2m", vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # large weights, so greedy text varies instead of repeating one token
        for name, p in model.named_parameters():
            if p.dim() == 2 and "embed_positions" not in name:  # positions are sinusoids, rebuilt on load
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 if "embed" in name else 0.15))
    folder = tmp_path_factory.mktemp("served") / "tiny-mt"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder, model


@pytest.fixture
def registry(marian):
    folder, _ = marian
    return build_registry([ModelSpec(name="mt", path=str(folder))], bundled_embeddings=False, dtype="float32",
                          max_batch_size=4)


@pytest.fixture
def client(registry):
    with TestClient(create_app(registry)) as c:
        yield c


def hf_greedy(model, tokenizer, source: str, max_new_tokens: int) -> list[int]:
    ids = torch.tensor([source_ids(tokenizer, source)])
    out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, num_beams=1,
                         max_new_tokens=max_new_tokens)
    return out[0, 1:].tolist()  # without the decoder start token


def test_sources_are_encoded_as_the_seq2seq_recipe_trains_them(tiny_tokenizer):
    for text in SOURCES:
        assert source_ids(tiny_tokenizer, text) == encode(tiny_tokenizer, text, 512)
    assert source_ids(tiny_tokenizer, SOURCES[2], max_length=5) == encode(tiny_tokenizer, SOURCES[2], 5)


def test_kind_is_read_from_the_checkpoint_config(marian):
    folder, _ = marian
    for kind in ("auto", "causal", "seq2seq"):
        assert resolve_kind(ModelSpec(name="mt", path=str(folder), kind=kind)) == "seq2seq"


def test_greedy_completions_match_hf_generate(client, marian, tiny_tokenizer):
    _, model = marian
    body = {"model": "mt", "prompt": SOURCES, "temperature": 0, "max_tokens": 10}
    r = client.post("/v1/completions", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    expected = [hf_greedy(model, tiny_tokenizer, s, 10) for s in SOURCES]
    assert [c["text"] for c in out["choices"]] == [tiny_tokenizer.decode(e, skip_special_tokens=True)
                                                   for e in expected]
    reasons = ["stop" if e[-1] == tiny_tokenizer.eos_token_id else "length" for e in expected]
    assert [c["finish_reason"] for c in out["choices"]] == reasons
    prompt_tokens = sum(len(source_ids(tiny_tokenizer, s)) for s in SOURCES)
    completion_tokens = sum(map(len, expected))
    assert out["usage"] == {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                            "total_tokens": prompt_tokens + completion_tokens}

    forced = client.post("/v1/completions", json={**body, "prompt": SOURCES[0],
                                                  "logit_bias": {str(tiny_tokenizer.eos_token_id): 100}}).json()
    assert forced["choices"][0] == {"index": 0, "text": "", "logprobs": None, "finish_reason": "stop"}
    assert forced["usage"]["completion_tokens"] == 1


def test_rows_leave_the_batch_as_they_finish_and_the_rest_still_match(marian, tiny_tokenizer):
    _, model = marian
    engine = Seq2SeqEngine(model, model_name="mt", max_batch_size=4)
    limits = [3, 12, 7]

    async def run() -> list[list[int]]:
        await engine.start()
        streams = [engine.generate(GenerationRequest(f"r{i}", source_ids(tiny_tokenizer, s),
                                                     SamplingParams(temperature=0, max_tokens=n, ignore_eos=True)))
                   for i, (s, n) in enumerate(zip(SOURCES, limits))]

        async def tokens(stream) -> list[int]:
            return [e.token_id async for e in stream]

        out = await asyncio.gather(*(tokens(s) for s in streams))
        await engine.shutdown(1)
        return out

    got = asyncio.run(run())
    for s, n, ids in zip(SOURCES, limits, got):
        expected = model.generate(torch.tensor([source_ids(tiny_tokenizer, s)]), do_sample=False,
                                  max_new_tokens=n, min_new_tokens=n)[0, 1:].tolist()
        assert ids == expected


def test_queue_bound_aborts_and_shutdown(marian, tiny_tokenizer):
    _, model = marian
    engine = Seq2SeqEngine(model, model_name="mt", max_batch_size=1, max_queue=1)
    long = SamplingParams(temperature=0, max_tokens=400, ignore_eos=True)

    async def run():
        await engine.start()
        ids = source_ids(tiny_tokenizer, SOURCES[0])
        running = engine.generate(GenerationRequest("r0", ids, long))
        first = await anext(running)  # r0 holds the only batch row
        waiting = engine.generate(GenerationRequest("r1", ids, long))
        with pytest.raises(QueueFull):
            engine.generate(GenerationRequest("r2", ids, long))
        assert (engine.stats().running, engine.stats().waiting) == (1, 1)
        await engine.abort("r1")
        aborted = [e async for e in waiting]
        await engine.shutdown(drain_timeout_s=0)
        rest = [e async for e in running]
        with pytest.raises(EngineShuttingDown):
            engine.generate(GenerationRequest("r3", ids, long))
        return first, aborted, rest

    first, aborted, rest = asyncio.run(run())
    assert first.queue_time_s is not None and first.finish_reason is None
    assert [(e.token_id, e.finish_reason, e.completion_tokens) for e in aborted] == [(-1, "abort", 0)]
    # the abort event counts the first token and the len(rest) - 1 tokens streamed after it
    assert rest[-1].finish_reason == "abort" and rest[-1].completion_tokens == len(rest)


def test_json_mode_and_logprobs_on_a_seq2seq_model(client):
    r = client.post("/v1/chat/completions", json={
        "model": "mt", "messages": [{"role": "user", "content": "Reply in JSON: the day"}], "max_tokens": 24,
        "response_format": {"type": "json_object"}, "logprobs": True, "top_logprobs": 2, "seed": 3})
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    assert isinstance(json.loads(choice["message"]["content"]), dict)
    content = choice["logprobs"]["content"]
    assert len(content) == r.json()["usage"]["completion_tokens"]
    assert all(len(t["top_logprobs"]) == 2 and t["logprob"] <= 0 for t in content)


def test_chat_answers_the_last_user_message_and_streams_per_token(client, tiny_tokenizer):
    last = SOURCES[1]
    messages = [{"role": "system", "content": "Translate."}, {"role": "user", "content": SOURCES[0]},
                {"role": "assistant", "content": "ok"}, {"role": "user", "content": last}]
    chat = client.post("/v1/chat/completions", json={"model": "mt", "messages": messages, "temperature": 0,
                                                     "max_tokens": 8}).json()
    plain = client.post("/v1/completions", json={"model": "mt", "prompt": last, "temperature": 0,
                                                 "max_tokens": 8}).json()
    assert chat["choices"][0]["message"]["content"] == plain["choices"][0]["text"]
    assert chat["usage"] == plain["usage"]
    assert chat["usage"]["prompt_tokens"] == len(source_ids(tiny_tokenizer, last))

    streamed = client.post("/v1/chat/completions", json={"model": "mt", "messages": messages, "temperature": 0,
                                                         "max_tokens": 8, "stream": True,
                                                         "stream_options": {"include_usage": True}})
    events = [json.loads(line[6:]) for line in streamed.text.split("\n\n") if line.startswith("data: {")]
    deltas = [e["choices"][0]["delta"].get("content") for e in events if e["choices"]]
    assert "".join(d or "" for d in deltas) == plain["choices"][0]["text"]
    assert len([d for d in deltas if d]) > 1  # more than one chunk: tokens stream as they are chosen
    assert events[-1]["usage"] == plain["usage"]

    tokenized = client.post("/tokenize", json={"model": "mt", "messages": messages}).json()
    assert tokenized["tokens"] == source_ids(tiny_tokenizer, last)


def test_sampling_is_reproducible_by_seed_and_stop_strings_cut(client):
    body = {"model": "mt", "prompt": SOURCES[2], "temperature": 1.0, "max_tokens": 12, "n": 2}
    a, b, c = (client.post("/v1/completions", json={**body, "seed": s}).json() for s in (5, 5, 6))
    texts = [[ch["text"] for ch in r["choices"]] for r in (a, b, c)]
    assert texts[0] == texts[1] != texts[2] and len(set(texts[0])) == 2

    greedy = client.post("/v1/completions", json={"model": "mt", "prompt": SOURCES[2], "temperature": 0,
                                                  "max_tokens": 12}).json()["choices"][0]["text"]
    stop = greedy[len(greedy) // 2:len(greedy) // 2 + 2]
    cut = client.post("/v1/completions", json={"model": "mt", "prompt": SOURCES[2], "temperature": 0,
                                               "max_tokens": 12, "stop": [stop]}).json()["choices"][0]
    assert cut["text"] == greedy[:greedy.index(stop)] and cut["finish_reason"] == "stop"


def test_bad_seq2seq_requests_are_400(client):
    long = client.post("/v1/completions", json={"model": "mt", "prompt": "day " * 600, "max_tokens": 2})
    assert long.status_code == 400 and long.json()["error"]["code"] == "context_length_exceeded"
    no_user = client.post("/v1/chat/completions", json={"model": "mt", "messages": [
        {"role": "system", "content": "hi"}]})
    assert no_user.status_code == 400 and no_user.json()["error"]["param"] == "messages"


def test_openai_client_against_a_seq2seq_model(registry, start_server):
    live = start_server(create_app(registry))
    c = openai.OpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0, timeout=30)
    comp = c.completions.create(model="mt", prompt=SOURCES[0], temperature=0, max_tokens=6)
    chat = c.chat.completions.create(model="mt", messages=[{"role": "user", "content": SOURCES[0]}],
                                     temperature=0, max_tokens=6)
    assert chat.choices[0].message.content == comp.choices[0].text
    assert comp.usage.completion_tokens == chat.usage.completion_tokens <= 6
    assert chat.choices[0].finish_reason in ("stop", "length")
    streamed = "".join(ch.choices[0].text for ch in c.completions.create(
        model="mt", prompt=SOURCES[0], temperature=0, max_tokens=6, stream=True))
    assert streamed == comp.choices[0].text
    assert [(m.id, m.kind) for m in c.models.list()] == [("mt", "seq2seq")]
