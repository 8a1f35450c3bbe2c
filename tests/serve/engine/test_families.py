"""Greedy parity with HF generate for every model family the lmstack engine accepts, on both paths.

The generic path runs each family's own modeling code over its slot cache, through a registered
attention function; a family whose code did not pass the engine's step layout through to
attention would attend wrongly without failing, so only families tested here are served. Llama,
Mistral and Qwen2 run the lean `DecoderStep` by default, so they are checked both ways.
"""

from __future__ import annotations

import asyncio

import pytest
import torch
import transformers as T

from lmstack.serve.engine.decoder_step import DecoderStep
from lmstack.serve.engine.factory import VERIFIED_MODEL_TYPES
from lmstack.serve.engine.kv_cache import KVCache, PromptSegment, StepLayout
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


LEAN = {"llama", "mistral", "qwen2"}


def family_model(family: str, dtype: torch.dtype = torch.float32):
    config_class, model_class, extra = FAMILIES[family]
    torch.manual_seed(0)
    model = model_class(config_class(**COMMON | extra)).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # large weights, so the continuation is not a constant token; biases too (Qwen2's q/k/v)
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 if "embed" in name else 0.15))
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return model.to(dtype)


def test_the_lean_step_takes_exactly_the_llama_family():
    assert {f for f in FAMILIES if DecoderStep.build(family_model(f)) is not None} == LEAN


@pytest.mark.parametrize(("family", "lean"), [(f, False) for f in FAMILIES] + [(f, True) for f in sorted(LEAN)],
                         ids=lambda v: {True: "lean", False: "generic"}.get(v, v) if isinstance(v, bool) else v)
def test_concurrent_greedy_equals_hf_generate(family, lean):
    model = family_model(family)
    prompts = [prompt(n, offset=n) for n in (3, 17, 9)]
    expected = [hf_greedy(model, p, 8) for p in prompts]
    engine = LmstackEngine(model, model_name=family, max_batch_size=2, prefill_chunk_tokens=8, lean=lean)

    async def body():
        return await asyncio.gather(*(collect(engine, f"r{i}", p, greedy(8)) for i, p in enumerate(prompts)))
    got = [[e.token_id for e in events] for events in run(engine, body)]
    assert got == expected


@pytest.mark.parametrize("family", sorted(LEAN))
def test_lean_step_logits_match_the_model_in_bf16(family):
    """The lean step computes what the model computes: a prompt's last-token logits in bf16 (where the
    step packs its weights for oneDNN) agree with the model's forward to bf16 rounding."""
    model = family_model(family, torch.bfloat16)
    ids = prompt(21)
    kv = KVCache(model.config, num_slots=1, max_context=256, dtype=model.dtype)
    layout = StepLayout.build([0] * len(ids), list(range(len(ids))), 0, [PromptSegment(0, len(ids), 0, 0)])
    with torch.inference_mode():
        expected = model(torch.tensor([ids])).logits[0, -1].float()
        got = DecoderStep.build(model)(torch.tensor(ids), layout.positions, layout,
                                                         torch.tensor([len(ids) - 1]), kv)[0].float()
    assert (got - expected).abs().max() <= 0.02 * expected.abs().max()
    assert got.argmax() == expected.argmax()


SLIDING = {"mistral": {"sliding_window": 6}, "qwen2": {"use_sliding_window": True, "sliding_window": 6,
                                                       "max_window_layers": 1}}


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "generic"])
@pytest.mark.parametrize("family", sorted(SLIDING))
def test_sliding_window_attention_equals_hf_generate(family, lean):
    """Prompts and continuations longer than the window: each token sees only its last 6 positions
    (Qwen2: in the layers past max_window_layers), in prefill chunks and in decode steps alike."""
    config_class, model_class, extra = FAMILIES[family]
    torch.manual_seed(0)
    model = model_class(config_class(**COMMON | extra | SLIDING[family])).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 if "embed" in name else 0.15))
    prompts = [prompt(n, offset=n) for n in (3, 17, 9)]
    expected = [hf_greedy(model, p, 12) for p in prompts]
    full = model_class(config_class(**COMMON | extra)).eval()
    full.load_state_dict(model.state_dict())
    assert expected != [hf_greedy(full, p, 12) for p in prompts]  # the window changes the output
    engine = LmstackEngine(model, model_name=family, max_batch_size=2, prefill_chunk_tokens=8, lean=lean)
    assert (engine._lean and DecoderStep.build(model) is not None) == lean

    async def body():
        return await asyncio.gather(*(collect(engine, f"r{i}", p, greedy(12)) for i, p in enumerate(prompts)))
    got = [[e.token_id for e in events] for events in run(engine, body)]
    assert got == expected
