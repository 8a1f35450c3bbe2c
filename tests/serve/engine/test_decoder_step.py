"""The lean step's last layer runs only the rows whose logits are sampled: the same logits, the same cache."""

from __future__ import annotations

import pytest
import torch

from lmstack.serve.engine.kv_cache import PromptSegment, StepLayout

from .test_linear import needs_kernel
from .test_native_layers import lean_bf16, twin_caches

# A mixed step: decode rows in slots 0 and 1, then slot 2's prompt chunk at positions 4..9 that ends
# its prompt, then slot 3's chunk at positions 0..5 that does not. Sampled: both decode rows and row 7.
SLOTS = [0, 1] + [2] * 6 + [3] * 6
POSITIONS = [11, 3] + list(range(4, 10)) + list(range(6))
SEGMENTS = [PromptSegment(2, 6, 2, 4), PromptSegment(8, 6, 3, 0)]
TOKENS = torch.tensor([9, 77, 5, 6, 7, 8, 9, 10, 300, 301, 302, 303, 304, 305])
KEEP = torch.tensor([0, 1, 7])


def step_twice(step, keep: torch.Tensor):
    """The step with `keep`, and with every row kept (nothing narrowed), on caches that start equal;
    checks the rows each layer's MLP ran."""
    narrowed, full = twin_caches(step, slots=4, context=32)
    layout = StepLayout.build(SLOTS, POSITIONS, 2, SEGMENTS)
    rows = record_mlp_rows(step)
    with torch.inference_mode():
        got = step(TOKENS, layout.positions, layout, keep, narrowed)
        assert rows == [len(SLOTS)] * (len(step.layers) - 1) + [len(keep)]
        rows.clear()
        every = step(TOKENS, layout.positions, layout, torch.arange(len(SLOTS)), full)
        assert rows == [len(SLOTS)] * len(step.layers)
    return got, every, narrowed, full


def record_mlp_rows(step) -> list[int]:
    rows: list[int] = []
    for layer in step.layers:
        def down(x, product=layer.down):
            rows.append(x.shape[0])
            return product(x)
        layer.down = down
    return rows


@needs_kernel
@pytest.mark.parametrize("family,window", [("llama", None), ("qwen2", None), ("mistral", 4)])
def test_the_last_layer_runs_only_the_sampled_rows_with_the_same_bits(family, window, monkeypatch):
    # lmstack's kernels give each row the same bits whatever rows share its step
    monkeypatch.setenv("LMSTACK_LINEAR", "kernel")
    step = lean_bf16(family, window)
    got, every, narrowed, full = step_twice(step, KEEP)
    assert got.shape == (3, 512) and torch.equal(got, every[KEEP])
    assert torch.equal(narrowed.keys, full.keys) and torch.equal(narrowed.values, full.values)


def test_the_torch_loop_narrows_the_last_layer_alike():
    step = lean_bf16("llama")
    step.fused = False  # the loop that runs where lmstack's kernels are not built
    got, every, narrowed, full = step_twice(step, KEEP)
    assert got.shape == (3, 512)
    torch.testing.assert_close(got.float(), every[KEEP].float(), atol=0.02 * float(every.abs().max()), rtol=0)
    assert torch.equal(got.argmax(-1), every[KEEP].argmax(-1))
    assert torch.equal(narrowed.keys, full.keys) and torch.equal(narrowed.values, full.values)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "torch"])
def test_a_step_that_samples_nothing_still_writes_every_layers_keys(fused):
    step = lean_bf16("llama")
    step.fused = step.fused and fused
    narrowed, full = twin_caches(step, slots=4, context=32)
    layout = StepLayout.build([3] * 6, list(range(6)), 0, [PromptSegment(0, 6, 3, 0)])
    tokens = TOKENS[8:]
    with torch.inference_mode():
        got = step(tokens, layout.positions, layout, torch.tensor([], dtype=torch.long), narrowed)
        step(tokens, layout.positions, layout, torch.arange(6), full)
    assert got.shape == (0, 512)
    assert torch.equal(narrowed.keys, full.keys) and torch.equal(narrowed.values, full.values)
    assert not torch.equal(narrowed.keys[-1, 3, :, :6], twin_caches(step, 4, 32)[0].keys[-1, 3, :, :6])


def test_select_keeps_each_rows_slot_position_and_length():
    layout = StepLayout.build(SLOTS, POSITIONS, 2, SEGMENTS)
    kept = layout.select(KEEP)
    assert kept.num_decode == 2
    assert kept.slots.tolist() == [0, 1, 2] and kept.positions.tolist() == [11, 3, 9]
    assert kept.lengths.tolist() == [12, 4, 10]
    assert kept.segments == (PromptSegment(2, 1, 2, 9),)
    assert kept.decode_kv_len == 12 and torch.equal(kept.decode_mask, layout.decode_mask)
    with pytest.raises(ValueError, match="every decode row"):
        layout.select(torch.tensor([1, 7]))
