"""build_engine: backends as a table, user errors with hints, a working engine from a saved folder."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest
import torch

from lmstack.errors import UserError
from lmstack.hardware.device import cpu_supports_bf16
from lmstack.models.build import build_model
from lmstack.serve.engine.base import GenerationRequest, SamplingParams
from lmstack.serve.engine.factory import BACKENDS, build_engine
from lmstack.serve.engine.lmstack_engine import LmstackEngine
from lmstack.serve.engine.transformers_engine import TransformersEngine


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory, tiny_llama, tiny_tokenizer):
    folder = tmp_path_factory.mktemp("served") / "tiny-llama"
    tiny_llama.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


def test_lmstack_backend_serves_a_saved_folder(model_folder, tiny_llama, tiny_tokenizer):
    engine, tokenizer = build_engine(str(model_folder), dtype="float32", max_batch_size=2, max_queue=3)
    assert isinstance(engine, LmstackEngine) and engine.model_name == "tiny-llama"
    assert engine.scheduler.num_slots == 2 and engine.scheduler.max_queue == 3
    assert tokenizer.get_vocab() == tiny_tokenizer.get_vocab()
    ids = tokenizer("The model reads the report")["input_ids"]

    async def main():
        await engine.start()
        request = GenerationRequest("r", ids, SamplingParams(max_tokens=6, temperature=0))
        events = [e async for e in engine.generate(request)]
        await engine.shutdown(0)
        return [e.token_id for e in events]

    expected = tiny_llama.generate(torch.tensor([ids]), max_new_tokens=6, do_sample=False)[0, len(ids):].tolist()
    assert asyncio.run(main()) == expected


def test_prefill_chunk_tokens_reach_the_lmstack_engine_only(model_folder):
    assert build_engine(str(model_folder), dtype="float32")[0].scheduler.prefill_chunk_tokens == 256
    engine, _ = build_engine(str(model_folder), dtype="float32", prefill_chunk_tokens=48)
    assert engine.scheduler.prefill_chunk_tokens == 48
    with pytest.raises(UserError, match="not of the 'transformers' backend"):
        build_engine(str(model_folder), backend="transformers", prefill_chunk_tokens=48)
    with pytest.raises(UserError, match=r"prefill_chunk_tokens must be ≥ 1 \(got 0\)"):
        build_engine(str(model_folder), prefill_chunk_tokens=0)


def test_auto_dtype_on_cpu_is_bf16_where_native(model_folder):
    engine, _ = build_engine(str(model_folder), device="cpu")
    assert engine.model.dtype == (torch.bfloat16 if cpu_supports_bf16() else torch.float32)
    assert engine.kv.keys.dtype == engine.model.dtype


def test_transformers_backend_and_unknown_backends(model_folder):
    engine, _ = build_engine(str(model_folder), backend="transformers", dtype="float32", max_batch_size=3)
    assert isinstance(engine, TransformersEngine) and engine.max_batch_size == 3
    with pytest.raises(UserError, match="unknown engine backend 'nope'"):
        build_engine(str(model_folder), backend="nope")


def test_vllm_backend_without_vllm_says_how_to_get_it(model_folder, monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(UserError) as e:
        build_engine(str(model_folder), backend="vllm")
    assert "not installed" in e.value.message and "pip install vllm" in e.value.hint
    assert list(BACKENDS) == ["lmstack", "transformers", "vllm"]


def test_non_causal_models_are_refused(tmp_path, tiny_tokenizer):
    tok = tiny_tokenizer
    model = build_model("seq2seq-2m", vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    model.save_pretrained(tmp_path / "s2s")
    with pytest.raises(UserError, match="seq2seq model"):
        build_engine(str(tmp_path / "s2s"))


def test_unverified_families_are_refused(tmp_path, tiny_tokenizer):
    import transformers as T

    model = T.GPTNeoXForCausalLM(T.GPTNeoXConfig(vocab_size=len(tiny_tokenizer), hidden_size=32, num_hidden_layers=1,
                                                 num_attention_heads=4, intermediate_size=64))
    model.save_pretrained(tmp_path)
    tiny_tokenizer.save_pretrained(tmp_path)
    with pytest.raises(UserError, match="not verified on 'gpt_neox'") as e:
        build_engine(str(tmp_path), device="cpu")
    assert "--backend transformers" in e.value.hint
