"""The blocked prompt-attention kernel: SDPA's numbers for long prompt chunks, strict about its input,
and the path `attend` takes for chunks of MIN_ROWS tokens and more."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lmstack.serve.engine import decode_attention as da
from lmstack.serve.engine import native
from lmstack.serve.engine import prompt_attention as pa
from lmstack.serve.engine.kv_cache import PromptSegment, StepLayout, attend

from .test_linear import CPU_HAS_AMX, CPU_HAS_BF16_DOT, needs_kernel


def cache(slots=3, heads=2, context=300, dim=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(slots, heads, context, dim, generator=g).to(torch.bfloat16),
            torch.randn(slots, heads, context, dim, generator=g).to(torch.bfloat16))


def reference(q, keys, values, slot, start, window, scale):
    """fp32 SDPA of a chunk (L, H, G, D) at positions start.. of `slot`, causal, with the window."""
    length, heads, group, dim = q.shape
    end = start + length
    rows, cols = torch.arange(start, end)[:, None], torch.arange(end)[None, :]
    mask = cols <= rows
    if window is not None:
        mask &= cols > rows - window
    qs = q.float().permute(1, 2, 0, 3).reshape(1, heads * group, length, dim)
    out = F.scaled_dot_product_attention(qs, keys[slot: slot + 1, :, :end].float(),
                                         values[slot: slot + 1, :, :end].float(), attn_mask=mask, scale=scale,
                                         enable_gqa=True)
    return out[0].reshape(heads, group, length, dim).permute(2, 0, 1, 3)


@needs_kernel
@pytest.mark.parametrize("amx", [False, True], ids=["avx512-bf16", "amx"])
@pytest.mark.parametrize("length,start,window,dim,group", [
    (37, 0, None, 64, 3),     # a prompt's first chunk, rows not a multiple of 16
    (100, 150, None, 64, 3),  # a later chunk: every row sees the earlier chunks' keys
    (64, 200, 40, 64, 2),     # a sliding window shorter than the chunk
    (40, 250, 200, 64, 3),    # a window longer than the chunk: blocks that every row sees whole
    (1, 0, None, 64, 1),
    (48, 17, None, 128, 4),   # heads of 128, key blocks starting off a multiple of 16
    (33, 70, None, 64, 7),    # 7 query heads per KV head: 231 queries, not a multiple of 16
])
def test_equals_sdpa_over_each_rows_keys(length, start, window, dim, group, amx):
    keys, values = cache(dim=dim)
    q = torch.randn(length, 2, group, dim, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16)
    if amx and not CPU_HAS_AMX:  # no AMX tiles here: the AMX form refuses, writing nothing
        out = torch.full_like(q, 7.0)
        with pytest.raises(ValueError, match="AMX tiles"):
            pa.prompt_attention(q, keys, values, slot=1, start=start, window=window, scale=0.1, out=out, amx=True)
        assert bool((out == 7.0).all())
        return
    out = pa.prompt_attention(q, keys, values, slot=1, start=start, window=window, scale=dim ** -0.5, amx=amx)
    assert out.shape == q.shape and out.dtype == torch.bfloat16
    expected = reference(q, keys, values, 1, start, window, dim ** -0.5)
    # the output's bf16 rounding; on AMX tiles the softmax weights are rounded to bf16 too (≤ 2⁻⁹ each)
    assert (out.float() - expected).abs().max() < (1e-2 if amx else 8e-3)


@needs_kernel
@pytest.mark.parametrize("amx", [False, CPU_HAS_AMX], ids=["avx512-bf16", "amx-where-present"])
def test_scores_that_jump_between_key_blocks(amx):
    # keys that grow with their position: later blocks' scores pass the running maximum by far more
    # than e^8, so the running sums are rescaled many times (and once by e^-100 and more)
    keys, values = cache(context=300, seed=6)
    keys = (keys.float() * torch.linspace(0.2, 6.0, 300)[None, None, :, None]).to(torch.bfloat16)
    q = torch.randn(90, 2, 3, 64, generator=torch.Generator().manual_seed(7)).to(torch.bfloat16)
    out = pa.prompt_attention(q, keys, values, slot=2, start=120, window=None, scale=0.5, amx=amx)
    expected = reference(q, keys, values, 2, 120, None, 0.5)
    # the output's bf16 rounding; on AMX tiles also the weights' (≤ 2⁻⁹ of each, times values of up to ~4)
    assert ((out.float() - expected).abs() <= expected.abs() * 2**-8 + (5e-3 if amx else 2e-3)).all()


def test_amx_wherever_the_cpu_has_amx_tiles_and_taken_by_default():
    assert pa.amx_available() is CPU_HAS_AMX
    if not CPU_HAS_BF16_DOT:
        return
    keys, values = cache()
    q = torch.randn(50, 2, 3, 64, generator=torch.Generator().manual_seed(5)).to(torch.bfloat16)
    default = pa.prompt_attention(q, keys, values, slot=0, start=20, window=None, scale=0.125)
    chosen = pa.prompt_attention(q, keys, values, slot=0, start=20, window=None, scale=0.125, amx=CPU_HAS_AMX)
    assert torch.equal(default, chosen)
    # an unsupported head size is refused by the AMX entry point itself, before any write
    small_keys, small_values = cache(dim=32)
    small_q, out = torch.randn(40, 2, 3, 32).to(torch.bfloat16), torch.full((40, 2, 3, 32), 7.0).to(torch.bfloat16)
    rc = native.kernel("prompt_attention_amx", torch.bfloat16)(
        small_q.data_ptr(), small_keys.data_ptr(), small_values.data_ptr(), out.data_ptr(), 40, 3, 2, 3, 32, 300, 0, 0,
        0, 0.1, 1)
    assert rc == -2 and bool((out == 7.0).all())


@needs_kernel
def test_agrees_with_the_row_kernel_and_writes_into_out():
    keys, values = cache()
    q = torch.randn(70, 2, 3, 64, generator=torch.Generator().manual_seed(2)).to(torch.bfloat16)
    out = torch.full_like(q, 7.0)
    assert pa.prompt_attention(q, keys, values, slot=2, start=30, window=None, scale=0.125, out=out) is out
    rows = da.decode_attention(q, keys, values, torch.arange(31, 101), None, 0.125, torch.full((70,), 2))
    assert (out.float() - rows.float()).abs().max() <= 2 ** -7  # the same sums in another order


@needs_kernel
def test_bad_input_is_refused_before_any_write():
    keys, values = cache()
    q = torch.randn(20, 2, 3, 64).to(torch.bfloat16)
    for slot, start in ((3, 0), (-1, 0), (0, 281), (0, -1)):
        with pytest.raises(ValueError, match="does not fit a cache of 3 slots × 300 positions"):
            pa.prompt_attention(q, keys, values, slot=slot, start=start, window=None, scale=1.0)
    with pytest.raises(ValueError, match="do not match the cache"):
        pa.prompt_attention(torch.randn(20, 3, 3, 64).to(torch.bfloat16), keys, values, slot=0, start=0,
                            window=None, scale=1.0)
    with pytest.raises(ValueError, match="contiguous bf16 tensor"):
        pa.prompt_attention(q, keys, values, slot=0, start=0, window=None, scale=1.0, out=torch.empty(20, 2, 3, 64))
    assert pa.available(keys)
    assert not pa.available(keys.float()) and not pa.available(cache(dim=32)[0])  # the head sizes it unrolls


@needs_kernel
@pytest.mark.parametrize("window", [None, 24])
def test_attend_takes_long_chunks_through_it_with_the_same_numbers(window, monkeypatch):
    """A step of 2 decode rows, a short chunk (rows of the row kernel) and a long one (blocked)."""
    keys, values = cache(slots=4)
    segments = [PromptSegment(2, 5, 2, 40), PromptSegment(7, 50, 3, 16)]
    positions = [60, 9] + list(range(40, 45)) + list(range(16, 66))
    layout = StepLayout.build([0, 1] + [2] * 5 + [3] * 50, positions, 2, segments)
    q = torch.randn(6, len(positions), 64, generator=torch.Generator().manual_seed(3)).to(torch.bfloat16)
    calls = []
    blocked = pa.prompt_attention
    monkeypatch.setattr(pa, "prompt_attention", lambda *a, **k: calls.append(k["slot"]) or blocked(*a, **k))
    got = attend(q, keys, values, layout, 0.125, window)
    assert calls == [3]  # the 50-token chunk only
    monkeypatch.setattr(pa, "available", lambda _keys: False)  # a CPU without AVX-512 BF16: rows one by one
    rows = attend(q, keys, values, layout, 0.125, window)
    assert got.shape == rows.shape == (6, len(positions), 64)
    assert torch.equal(got[:, :7], rows[:, :7])  # decode rows and the short chunk: the same kernel
    assert (got.float() - rows.float()).abs().max() <= 2 ** -7


@needs_kernel
def test_a_long_prompt_through_the_lean_step_gives_the_models_logits(monkeypatch):
    """An 80-token prompt in chunks of 48 and 32 (both blocked) on a bf16 Llama with heads of 64."""
    import transformers as T

    from lmstack.serve.engine.decoder_step import DecoderStep
    from lmstack.serve.engine.kv_cache import KVCache

    torch.manual_seed(0)
    config = T.LlamaConfig(vocab_size=300, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                           num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=128)
    model = T.LlamaForCausalLM(config).eval().to(torch.bfloat16)
    ids = torch.randint(0, 300, (80,), generator=torch.Generator().manual_seed(4))
    kv = KVCache(model.config, num_slots=2, max_context=128, dtype=torch.bfloat16)
    step = DecoderStep.build(model)
    calls = []
    blocked = pa.prompt_attention
    monkeypatch.setattr(pa, "prompt_attention", lambda *a, **k: calls.append(k["start"]) or blocked(*a, **k))
    with torch.inference_mode():
        for start, end in ((0, 48), (48, 80)):
            layout = StepLayout.build([1] * (end - start), list(range(start, end)), 0,
                                      [PromptSegment(0, end - start, 1, start)])
            got = step(ids[start:end], layout.positions, layout, torch.tensor([end - start - 1]), kv)[0].float()
        expected = model(ids[None]).logits[0, -1].float()
    assert calls == [0, 48]  # each chunk in the first layer (the last one runs only the sampled row)
    assert (got - expected).abs().max() <= 0.02 * expected.abs().max()
    assert got.argmax() == expected.argmax()
