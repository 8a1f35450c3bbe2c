"""Greedy parity with HF generate for every model family the lmstack engine accepts.

The engine runs each family's own modeling code over its slot cache, through a registered
attention function; a family whose code did not pass the engine's step layout through to
attention would attend wrongly without failing, so only families tested here are served.
"""

from __future__ import annotations

import asyncio

import pytest
import torch
import transformers as T

from lmstack.serve.engine.factory import VERIFIED_MODEL_TYPES
from lmstack.serve.engine.lmstack_engine import LmstackEngine

from .test_lmstack_engine import collect, greedy, hf_greedy, prompt, run

COMMON = dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=256, eos_token_id=0, bos_token_id=0, pad_token_id=1)
FAMILIES = {
    "llama": (T.LlamaConfig, T.LlamaForCausalLM, {}),
    "mistral": (T.MistralConfig, T.MistralForCausalLM, {}),
    "qwen2": (T.Qwen2Config, T.Qwen2ForCausalLM, {}),
    "qwen3": (T.Qwen3Config, T.Qwen3ForCausalLM, {"head_dim": 16}),
    "mixtral": (T.MixtralConfig, T.MixtralForCausalLM, {"num_local_experts": 4, "num_experts_per_tok": 2}),
    "gemma": (T.GemmaConfig, T.GemmaForCausalLM, {"head_dim": 16}),
    "phi3": (T.Phi3Config, T.Phi3ForCausalLM, {}),
}


def test_every_verified_family_is_tested():
    assert set(FAMILIES) == set(VERIFIED_MODEL_TYPES)


@pytest.mark.parametrize("family", FAMILIES)
def test_concurrent_greedy_equals_hf_generate(family):
    config_class, model_class, extra = FAMILIES[family]
    torch.manual_seed(0)
    model = model_class(config_class(**COMMON | extra)).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # large weights, so the continuation is not a constant token
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 if "embed" in name else 0.15))
    prompts = [prompt(n, offset=n) for n in (3, 17, 9)]
    expected = [hf_greedy(model, p, 8) for p in prompts]
    engine = LmstackEngine(model, model_name=family, max_batch_size=2, prefill_chunk_tokens=8)

    async def body():
        return await asyncio.gather(*(collect(engine, f"r{i}", p, greedy(8)) for i, p in enumerate(prompts)))
    got = [[e.token_id for e in events] for events in run(engine, body)]
    assert got == expected
