"""The API over the real lmstack engine (through `build_registry` and the engine factory)."""

from __future__ import annotations

import json

import pytest
import torch
from fastapi.testclient import TestClient

from lmstack.models.build import build_model
from lmstack.serve.app import create_app
from lmstack.serve.server import ModelSpec, build_registry


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory, tiny_tokenizer):
    tok = tiny_tokenizer
    model = build_model("llama-1m", vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # large weights, so greedy text varies instead of repeating one token
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 if "embed" in name else 0.15))
    folder = tmp_path_factory.mktemp("served") / "tiny-llama"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder, model


def test_chat_over_the_real_engine_matches_hf_generate(model_folder, tiny_tokenizer):
    folder, model = model_folder
    registry = build_registry([ModelSpec(name="tiny-llama", path=str(folder))], bundled_embeddings=False,
                              dtype="float32", max_batch_size=4, prefill_chunk_tokens=5)
    assert registry.generator("tiny-llama").engine.scheduler.prefill_chunk_tokens == 5  # the prompt takes chunks
    messages = [{"role": "user", "content": "The model reads the report"}]
    body = {"model": "tiny-llama", "messages": messages, "temperature": 0, "max_tokens": 8, "n": 2}
    with TestClient(create_app(registry)) as c:
        whole = c.post("/v1/chat/completions", json=body).json()
        streamed = c.post("/v1/chat/completions", json={**body, "n": 1, "stream": True})
    ids = tiny_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tiny_tokenizer.encode(ids, add_special_tokens=False)
    out = model.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False,
                         eos_token_id=[tiny_tokenizer.eos_token_id, tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")])
    expected = tiny_tokenizer.decode(out[0, len(ids):], skip_special_tokens=True)
    assert [ch["message"]["content"] for ch in whole["choices"]] == [expected, expected]
    assert whole["usage"]["prompt_tokens"] == len(ids)
    chunks = [line[6:] for line in streamed.text.split("\n\n") if line.startswith("data: {")]
    text = "".join(json.loads(ch)["choices"][0]["delta"].get("content") or "" for ch in chunks)
    assert text == expected


def test_a_prompt_longer_than_a_prefill_chunk_is_answered_like_hf_generate(model_folder, tiny_tokenizer):
    # 300 prompt tokens: more than the engine's 256-token prefill chunk, alone in the engine
    folder, model = model_folder
    registry = build_registry([ModelSpec(name="tiny-llama", path=str(folder))], bundled_embeddings=False,
                              dtype="float32", max_batch_size=2)
    ids = [(7 * i) % 200 + 20 for i in range(300)]
    with TestClient(create_app(registry)) as c:
        r = c.post("/v1/completions", json={"model": "tiny-llama", "prompt": ids, "max_tokens": 6, "temperature": 0})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["usage"] == {"prompt_tokens": 300, "completion_tokens": 6, "total_tokens": 306}
    out = model.generate(torch.tensor([ids]), max_new_tokens=6, min_new_tokens=6, do_sample=False)
    expected = tiny_tokenizer.decode(out[0, 300:], skip_special_tokens=True)
    assert body["choices"][0]["text"] == expected and body["choices"][0]["finish_reason"] == "length"


def test_json_mode_over_the_real_engine_always_parses(model_folder):
    folder, _ = model_folder
    registry = build_registry([ModelSpec(name="tiny-llama", path=str(folder))], bundled_embeddings=False,
                              dtype="float32", max_batch_size=4)
    body = {"model": "tiny-llama", "messages": [{"role": "user", "content": "Reply in JSON: the day"}],
            "response_format": {"type": "json_object"}, "n": 3}
    with TestClient(create_app(registry)) as c:
        for max_tokens, temperature, seed in ((5, 0, None), (24, 1.0, 1), (24, 2.0, 2)):
            r = c.post("/v1/chat/completions", json={**body, "max_tokens": max_tokens, "temperature": temperature,
                                                     "seed": seed})
            assert r.status_code == 200, r.text
            for choice in r.json()["choices"]:
                assert isinstance(json.loads(choice["message"]["content"]), dict)
        text = c.get("/metrics").text
    assert 'lmstack:request_queue_time_seconds_count{model_name="tiny-llama"} 9.0' in text
