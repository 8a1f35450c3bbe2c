"""Every layer of a decode-only step in one C call: the same bits as the Python loop over the same kernels."""

from __future__ import annotations

import asyncio

import pytest
import torch

from lmstack.serve.engine import linear
from lmstack.serve.engine.decoder_step import DecoderStep
from lmstack.serve.engine.kv_cache import KVCache, PromptSegment, StepLayout
from lmstack.serve.engine.linear import LinearPlan
from lmstack.serve.engine.lmstack_engine import LmstackEngine
from lmstack.serve.engine.native_layers import NativeLayers

from .test_families import family_model
from .test_linear import needs_kernel
from .test_lmstack_engine import collect, greedy, prompt, run


def lean_bf16(family: str, window: int | None = None) -> DecoderStep:
    model = family_model(family, torch.bfloat16)
    if window is not None:
        model.config.sliding_window = window
    step = DecoderStep.build(model)
    assert step is not None
    return step


def twin_caches(step: DecoderStep, slots: int = 4, context: int = 32) -> tuple[KVCache, KVCache]:
    first = KVCache(step.model.config, num_slots=slots, max_context=context, dtype=torch.bfloat16)
    first.keys.normal_(generator=torch.Generator().manual_seed(1))
    first.values.normal_(generator=torch.Generator().manual_seed(2))
    second = KVCache(step.model.config, num_slots=slots, max_context=context, dtype=torch.bfloat16)
    second.keys.copy_(first.keys)
    second.values.copy_(first.values)
    return first, second


@needs_kernel
@pytest.mark.parametrize("family,window", [("llama", None), ("qwen2", None), ("mistral", 6)])
def test_one_call_gives_the_python_loops_bits(family, window, monkeypatch):
    # Qwen2 has q/k/v biases, the Mistral model here a 6-position sliding window (rows see fewer keys)
    monkeypatch.setenv("LMSTACK_LINEAR", "kernel")
    step = lean_bf16(family, window)
    native = step.native
    assert native is not None and native.max_rows == linear.ALL_ROWS
    one_call, python = twin_caches(step)
    before = one_call.keys.clone()
    layout = StepLayout.build([0, 1, 2], [5, 13, 20], 3, [])
    tokens = torch.tensor([7, 300, 42])
    keep = torch.arange(3)
    with torch.inference_mode():
        assert native.applies(layout, one_call)
        logits = step(tokens, layout.positions, layout, keep, one_call)
        step.native = None
        expected = step(tokens, layout.positions, layout, keep, python)
    assert logits.shape == (3, 512) and torch.equal(logits, expected)
    assert torch.equal(one_call.keys, python.keys) and torch.equal(one_call.values, python.values)
    assert not torch.equal(one_call.keys[:, 1, :, 13], before[:, 1, :, 13])  # the step's keys were written
    assert torch.equal(one_call.keys[:, 1, :, 14:], before[:, 1, :, 14:])  # and nothing past them


@needs_kernel
def test_prompt_chunks_and_rows_above_the_kernels_range_keep_the_python_loop(monkeypatch):
    monkeypatch.setattr(LinearPlan, "choose", classmethod(lambda cls, groups, mode=None, step_rows=0: cls(2, source="test")))
    step = lean_bf16("llama")
    assert step.native is not None and step.native.max_rows == 2  # oneDNN above 2 rows (RowSwitch)
    kv, _ = twin_caches(step)
    two = StepLayout.build([0, 1], [3, 4], 2, [])
    three = StepLayout.build([0, 1, 2], [3, 4, 5], 3, [])
    with_prompt = StepLayout.build([0, 1, 1, 1], [3, 0, 1, 2], 1, [PromptSegment(1, 3, 1, 0)])
    assert step.native.applies(two, kv) and not step.native.applies(three, kv)
    assert not step.native.applies(with_prompt, kv)
    with torch.inference_mode():  # still answered, by the Python loop
        assert step(torch.tensor([5, 6, 7]), three.positions, three, torch.arange(3), kv).shape == (3, 512)
    monkeypatch.setattr(LinearPlan, "choose", classmethod(lambda cls, groups, mode=None, step_rows=0: cls(0, source="test")))
    assert lean_bf16("llama").native is None  # oneDNN everywhere: nothing for the C loop to call


@needs_kernel
def test_a_position_outside_the_cache_or_a_row_outside_its_slot_is_refused_before_any_write(monkeypatch):
    monkeypatch.setenv("LMSTACK_LINEAR", "kernel")
    step = lean_bf16("llama")
    kv, _ = twin_caches(step, context=16)
    keys, values = kv.keys.clone(), kv.values.clone()
    layout = StepLayout.build([0, 1], [3, 16], 2, [])  # position 16 of a 16-position cache
    swapped = StepLayout.build([1, 0], [3, 4], 2, [])  # row 0 in slot 1: attention would read the wrong slot
    for bad in (layout, swapped):
        with torch.inference_mode(), pytest.raises(ValueError, match="inside the cache"):
            step(torch.tensor([5, 6]), bad.positions, bad, torch.arange(2), kv)
    assert torch.equal(kv.keys, keys) and torch.equal(kv.values, values)


@needs_kernel
def test_the_engine_runs_its_decode_steps_in_one_call_with_the_same_tokens(monkeypatch):
    monkeypatch.setenv("LMSTACK_LINEAR", "kernel")
    calls = []
    original = NativeLayers.__call__

    def counted(self, *args):
        calls.append(args[0].shape[0])
        return original(self, *args)

    monkeypatch.setattr(NativeLayers, "__call__", counted)

    def generate() -> list[list[int]]:
        engine = LmstackEngine(family_model("llama", torch.bfloat16), model_name="llama", max_batch_size=2,
                               prefill_chunk_tokens=8)

        async def both():
            params = greedy(10, ignore_eos=True)
            outs = await asyncio.gather(*(collect(engine, f"r{i}", prompt(11, offset=9 * i), params) for i in range(2)))
            return [[ev.token_id for ev in events] for events in outs]

        return run(engine, both)

    with_one_call = generate()
    assert len(calls) >= 9 and set(calls) <= {1, 2}  # decode-only steps; prompt chunks kept the Python loop
    monkeypatch.setattr(NativeLayers, "build", classmethod(lambda cls, step: None))
    calls.clear()
    assert generate() == with_one_call and not calls
    assert all(len(tokens) == 10 for tokens in with_one_call)
