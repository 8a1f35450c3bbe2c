"""lmstack's CPU decode-attention kernel: built by the install, equal to SDPA, and strict about its input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lmstack.serve.engine import decode_attention as da
from lmstack.serve.engine import native
from lmstack.serve.engine.kv_cache import PromptSegment, StepLayout, attend


def reference(q, keys, values, lengths, starts, scale):
    """fp32 SDPA over each row's own key range."""
    outs = []
    for b in range(q.shape[0]):
        k = keys[b, :, starts[b]:lengths[b]].float()
        v = values[b, :, starts[b]:lengths[b]].float()
        outs.append(F.scaled_dot_product_attention(q[b].float(), k, v, scale=scale))
    return torch.stack(outs)


def cache(slots=6, heads=2, context=40, dim=16, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(slots, heads, context, dim, generator=g).to(dtype),
            torch.randn(slots, heads, context, dim, generator=g).to(dtype))


def test_the_install_built_the_kernel():
    keys, _ = cache()
    assert da.available(keys), "the kernels extension was not built: `make install` needs gcc with OpenMP"
    assert not da.available(keys.to(torch.float16)) and not da.available(keys.transpose(2, 3))


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 1e-2)])
@pytest.mark.parametrize("group", [1, 3])
def test_equals_sdpa_over_each_rows_range(dtype, tol, group):
    keys, values = cache(dtype=dtype)
    q = torch.randn(5, 2, group, 16).to(dtype)
    lengths = torch.tensor([1, 7, 40, 23, 12])
    starts = torch.tensor([0, 0, 31, 3, 11])  # a sliding window cuts the front of some rows
    out = da.decode_attention(q, keys, values, lengths, starts, scale=0.3)
    assert out.dtype == dtype and out.shape == q.shape
    expected = reference(q, keys, values, lengths, starts, 0.3)
    torch.testing.assert_close(out.float(), expected, atol=tol, rtol=tol)
    from_zero = da.decode_attention(q, keys, values, lengths, None, scale=0.3)  # no starts: every row from 0
    assert torch.equal(from_zero, da.decode_attention(q, keys, values, lengths, torch.zeros(5, dtype=torch.long), 0.3))
    torch.testing.assert_close(from_zero.float(), reference(q, keys, values, lengths, [0] * 5, 0.3), atol=tol, rtol=tol)


@pytest.mark.parametrize("dim,group", [(64, 1), (64, 2), (64, 3), (64, 4), (64, 7), (64, 8), (64, 9), (128, 1), (128, 2),
                                       (128, 5)])
def test_model_sized_bf16_heads_give_sdpas_numbers(dim, group):
    # the head sizes the kernel unrolls (64, 128), groups of queries as Llama-family models have them,
    # and key ranges around a multiple of 16
    keys, values = cache(slots=5, heads=2, context=200, dim=dim, dtype=torch.bfloat16, seed=3)
    q = torch.randn(5, 2, group, dim, generator=torch.Generator().manual_seed(4)).to(torch.bfloat16)
    lengths = torch.tensor([1, 16, 17, 200, 150])
    starts = torch.tensor([0, 0, 0, 37, 3])  # 1, 16, 17, 163 and 147 keys
    out = da.decode_attention(q, keys, values, lengths, starts, scale=dim ** -0.5)
    expected = reference(q, keys, values, lengths, starts, dim ** -0.5)
    torch.testing.assert_close(out.float(), expected, atol=1e-2, rtol=1e-2)
    assert (out.float() - expected).abs().max() < 8e-3


@pytest.mark.parametrize("dim,group", [(64, 3), (64, 6), (128, 3)])
def test_the_register_form_and_the_loop_form_agree(dim, group):
    # bf16 heads of 64 and 128 run a form that keeps the value sums in registers and prefetches K/V
    # (task_avx512 on AVX-512 CPUs); `decode_attention_loop` is the plain loop form every CPU has
    keys, values = cache(slots=4, heads=2, context=300, dim=dim, dtype=torch.bfloat16, seed=5)
    q = torch.randn(4, 2, group, dim, generator=torch.Generator().manual_seed(6)).to(torch.bfloat16)
    lengths = torch.tensor([300, 1, 64, 129], dtype=torch.int64)
    fast = da.decode_attention(q, keys, values, lengths, None, scale=0.125)
    loop = torch.empty_like(q)
    rc = native.kernel("decode_attention_loop", torch.bfloat16)(
        q.data_ptr(), keys.data_ptr(), values.data_ptr(), None, lengths.data_ptr(), None, loop.data_ptr(), 4,
        keys.shape[0], 2, group, dim, 300, 0.125, torch.get_num_threads())
    assert rc == 0
    # the same sums in another order: equal up to one bf16 rounding step of the output
    assert (fast.float() - loop.float()).abs().max() <= 2 ** -7


def test_bad_ranges_and_shapes_are_refused_before_any_read():
    keys, values = cache()
    q = torch.randn(2, 2, 1, 16)
    for lengths, starts in (([41, 3], [0, 0]), ([5, 3], [5, 0]), ([5, 3], [-1, 0])):
        with pytest.raises(ValueError, match=r"0 <= start < length <= 40"):
            da.decode_attention(q, keys, values, torch.tensor(lengths), torch.tensor(starts), 1.0)
    with pytest.raises(ValueError, match="do not match the cache"):
        da.decode_attention(torch.randn(2, 3, 1, 16), keys, values, torch.tensor([2, 2]), torch.tensor([0, 0]), 1.0)
    with pytest.raises(ValueError, match="lengths, starts and slots"):
        da.decode_attention(q, keys, values, torch.tensor([2]), torch.tensor([0]), 1.0)
    with pytest.raises(ValueError, match="lengths, starts and slots"):
        da.decode_attention(q, keys, values, torch.tensor([2, 2]), None, 1.0, slots=torch.tensor([0]))
    for bad_slot in (-1, keys.shape[0]):
        with pytest.raises(ValueError, match=rf"read a slot in \[0, {keys.shape[0]}\)"):
            da.decode_attention(q, keys, values, torch.tensor([2, 2]), None, 1.0, slots=torch.tensor([0, bad_slot]))


def test_attend_gives_the_same_with_and_without_the_kernel(monkeypatch):
    """A step of 3 decode rows and one prompt chunk, with and without a sliding window."""
    keys, values = cache(slots=4, heads=2, context=40, dim=16)
    positions = [9, 30, 17] + list(range(5, 13))
    layout = StepLayout.build([0, 1, 2] + [3] * 8, positions, 3, [PromptSegment(3, 8, 3, 5)])
    q = torch.randn(6, len(positions), 16)  # 6 query heads over 2 KV heads
    for window in (None, 8):
        with_kernel = attend(q, keys, values, layout, 0.25, window)
        monkeypatch.setattr(da, "available", lambda _keys: False)
        without = attend(q, keys, values, layout, 0.25, window)
        monkeypatch.undo()
        torch.testing.assert_close(with_kernel, without, atol=1e-5, rtol=1e-5)


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("LMSTACK_KERNELS", "0")
    native.library.cache_clear()
    try:
        assert not da.available(cache()[0])
        with pytest.raises(RuntimeError, match="not built here"):
            da.decode_attention(torch.randn(1, 2, 1, 16), *cache(), torch.tensor([3]), torch.tensor([0]), 1.0)
    finally:
        monkeypatch.delenv("LMSTACK_KERNELS")
        native.library.cache_clear()
    assert da.available(cache()[0])
