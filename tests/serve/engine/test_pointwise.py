"""The fused pointwise kernels equal the torch code they replace, and the lean step gives the same logits with them."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lmstack.models.build import build_model
from lmstack.serve.engine import native, pointwise
from lmstack.serve.engine.decoder_step import DecoderStep, _rms_norm, _rotate
from lmstack.serve.engine.kv_cache import KVCache, PromptSegment, StepLayout

# bf16: torch's bf16 ops round each result; the kernels round at the same places, so what differs is
# a sum's order or expf's last bit, at most one bf16 step (2^-8 relative) on a few values.
TOL = {torch.float32: dict(atol=1e-5, rtol=1e-5), torch.bfloat16: dict(atol=2e-2, rtol=8e-3)}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rms_norm_with_and_without_the_residual_add(dtype):
    g = torch.Generator().manual_seed(0)
    x, delta = (torch.randn(5, 96, generator=g) * 3).to(dtype), torch.randn(5, 96, generator=g).to(dtype)
    norm = torch.nn.Module()
    norm.weight, norm.variance_epsilon = torch.nn.Parameter((torch.rand(96, generator=g) + 0.5).to(dtype)), 1e-6
    reference = _rms_norm(norm)
    torch.testing.assert_close(pointwise.rms_norm(x.clone(), norm.weight, 1e-6), reference(x), **TOL[dtype])
    h = x.clone()
    out = pointwise.rms_norm(h, norm.weight, 1e-6, delta)
    assert torch.equal(h, x + delta)  # the residual add, in place, rounded as torch rounds it
    torch.testing.assert_close(out, reference(x + delta), **TOL[dtype])
    with pytest.raises(ValueError, match="do not fit"):
        pointwise.rms_norm(x, norm.weight[:10], 1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_silu_mul_and_rope(dtype):
    g = torch.Generator().manual_seed(1)
    gate_up = (torch.randn(4, 2 * 40, generator=g) * 4).to(dtype)
    torch.testing.assert_close(pointwise.silu_mul(gate_up), F.silu(gate_up[:, :40]) * gate_up[:, 40:], **TOL[dtype])
    qkv = torch.randn(6, 5 * 16 + 7, generator=g).to(dtype)  # rows wider than the rotated heads, as in a qkv product
    x = qkv[:, : 5 * 16].view(6, 5, 16)
    angles = torch.rand(6, 16, generator=g) * 6
    cos, sin = angles.cos().to(dtype), angles.sin().to(dtype)
    signed_sin = torch.cat((-sin[:, :8], sin[:, 8:]), dim=-1)[:, None]
    expected = _rotate(x, cos[:, None], signed_sin)
    out = pointwise.rope(x, cos, sin)
    assert out.is_contiguous() and out.shape == (6, 5, 16)
    if dtype == torch.float32:
        torch.testing.assert_close(out, expected, **TOL[dtype])
    else:  # each product and the sum rounded where torch rounds them: the same bits
        assert torch.equal(out, expected)
    with pytest.raises(ValueError, match="do not fit"):
        pointwise.rope(x, cos[:5], sin[:5])
    with pytest.raises(ValueError, match="even number"):
        pointwise.silu_mul(gate_up[:, :7])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_step_gives_the_same_logits_with_and_without_the_kernels(dtype):
    torch.manual_seed(0)
    model = build_model("llama-1m", vocab_size=300, pad_token_id=0, bos_token_id=1, eos_token_id=2).to(dtype).eval()
    step = DecoderStep.build(model)
    assert step is not None and step.fused
    kv = KVCache(model.config, num_slots=3, max_context=32, dtype=dtype)
    kv.keys.normal_()
    kv.values.normal_()
    positions = [7, 11] + list(range(0, 6))
    layout = StepLayout.build([0, 1] + [2] * 6, positions, 2, [PromptSegment(2, 6, 2, 0)])
    tokens = torch.randint(3, 300, (8,), generator=torch.Generator().manual_seed(2))
    keep = torch.tensor([0, 1, 7])
    with torch.inference_mode():
        fused = step(tokens, layout.positions, layout, keep, kv)
        step.fused = False
        plain = step(tokens, layout.positions, layout, keep, kv)
    tol = dict(atol=1e-4, rtol=1e-4) if dtype == torch.float32 else dict(atol=0.15, rtol=0.05)
    torch.testing.assert_close(fused, plain, **tol)
    assert torch.equal(fused.argmax(-1), plain.argmax(-1))
    assert native.usable(tokens.to(dtype)) is True


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rope_store_is_rope_and_the_cache_write_in_one(dtype):
    g = torch.Generator().manual_seed(3)
    heads, kv_heads, dim, rows = 6, 2, 16, 5
    qkv_wide = torch.randn(rows, (heads + 2 * kv_heads) * dim + 8, generator=g).to(dtype)
    qkv = qkv_wide[:, : (heads + 2 * kv_heads) * dim]  # strided rows, as a slice of a wider product
    angles = torch.rand(rows, dim, generator=g) * 6
    cos, sin = angles.cos().to(dtype), angles.sin().to(dtype)
    slots, positions = torch.tensor([0, 2, 1, 1, 1]), torch.tensor([7, 3, 0, 1, 2])
    keys, values = torch.zeros(3, kv_heads, 10, dim, dtype=dtype), torch.zeros(3, kv_heads, 10, dim, dtype=dtype)
    q = pointwise.rope_store(qkv, cos, sin, keys, values, slots, positions, heads, kv_heads)
    qk = pointwise.rope(qkv[:, : (heads + kv_heads) * dim].view(rows, heads + kv_heads, dim), cos, sin)
    assert q.shape == (rows, heads, dim) and torch.equal(q, qk[:, :heads])
    v = qkv[:, (heads + kv_heads) * dim:].reshape(rows, kv_heads, dim)
    assert torch.equal(keys[slots, :, positions], qk[:, heads:]) and torch.equal(values[slots, :, positions], v)
    written = torch.zeros(3, 10, dtype=torch.bool)
    written[slots, positions] = True
    assert keys.transpose(1, 2)[~written].abs().sum() == 0 and values.transpose(1, 2)[~written].abs().sum() == 0
    before = keys.clone()
    with pytest.raises(ValueError, match="outside the cache"):  # position 10 of a 10-position cache
        pointwise.rope_store(qkv, cos, sin, keys, values, slots, torch.tensor([7, 3, 0, 1, 10]), heads, kv_heads)
    assert torch.equal(keys, before)  # nothing written
    with pytest.raises(ValueError, match="do not fit"):
        pointwise.rope_store(qkv, cos, sin, keys, values, slots, positions, heads, 3)
