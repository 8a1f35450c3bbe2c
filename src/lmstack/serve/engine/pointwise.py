"""The decoder step's pointwise work through lmstack's fused CPU kernels (`csrc/pointwise.c`).

Each function equals the torch code in `decoder_step` (transformers' LlamaRMSNorm, SiLU·up,
apply_rotary_pos_emb), rounding where torch's bf16 ops round; callers check `native.usable` first and
keep the torch code for other devices and dtypes.
"""

from __future__ import annotations

import torch

from lmstack.serve.engine import native


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float, delta: torch.Tensor | None = None) -> torch.Tensor:
    """RMSNorm of x (rows, dim); with `delta`, first x += delta IN PLACE (the residual add before a norm)."""
    rows, dim = x.shape
    if weight.shape != (dim,) or (delta is not None and delta.shape != x.shape):
        raise ValueError(f"rms_norm: x {tuple(x.shape)}, weight {tuple(weight.shape)}, delta "
                         f"{None if delta is None else tuple(delta.shape)} do not fit")
    out = torch.empty_like(x)
    native.kernel("rms_norm", x.dtype)(x.data_ptr(), None if delta is None else delta.data_ptr(), weight.data_ptr(),
                                      out.data_ptr(), rows, dim, float(eps), torch.get_num_threads())
    return out


def silu_mul(gate_up: torch.Tensor) -> torch.Tensor:
    """silu(gate) · up for gate_up (rows, 2·inter), gate first → (rows, inter)."""
    rows, width = gate_up.shape
    if width % 2:
        raise ValueError(f"silu_mul: gate_up has {width} columns; gate and up need an even number")
    out = gate_up.new_empty(rows, width // 2)
    native.kernel("silu_mul", gate_up.dtype)(gate_up.data_ptr(), out.data_ptr(), rows, width // 2,
                                            torch.get_num_threads())
    return out


def rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embeddings of x (rows, heads, D) — rows may be strided, each row's heads contiguous — with
    cos, sin (rows, D) → a new contiguous (rows, heads, D)."""
    rows, heads, dim = x.shape
    if x.stride(2) != 1 or x.stride(1) != dim or cos.shape != (rows, dim) or sin.shape != (rows, dim) or dim % 2:
        raise ValueError(f"rope: x {tuple(x.shape)} (strides {x.stride()}) and cos/sin {tuple(cos.shape)} do not fit")
    if not (cos.is_contiguous() and sin.is_contiguous()) or cos.dtype != x.dtype or sin.dtype != x.dtype:
        raise ValueError("rope: cos and sin must be contiguous and of x's dtype")
    out = x.new_empty(rows, heads, dim)
    native.kernel("rope", x.dtype)(x.data_ptr(), x.stride(0), cos.data_ptr(), sin.data_ptr(), out.data_ptr(), rows,
                                  heads, dim, torch.get_num_threads())
    return out


def rope_store(qkv: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
               slots: torch.Tensor, positions: torch.Tensor, heads: int, kv_heads: int) -> torch.Tensor:
    """One step's q/k/v product (rows, ≥ (heads + 2·kv_heads)·D; rows may be strided): rotary embeddings on
    queries and keys, the keys and values written into one layer's cache buffers `keys`, `values` (slots,
    kv_heads, C, D) at each row's (slot, position) — `KVCache.write` and `rope` in one pass. Returns the
    rotated queries, a new contiguous (rows, heads, D)."""
    rows, dim = qkv.shape[0], keys.shape[-1]
    num_slots, cache_heads, context, _ = keys.shape
    if (qkv.dim() != 2 or qkv.stride(1) != 1 or qkv.shape[1] < (heads + 2 * kv_heads) * dim
            or cache_heads != kv_heads or values.shape != keys.shape or cos.shape != (rows, dim)
            or sin.shape != (rows, dim) or slots.shape != (rows,) or positions.shape != (rows,) or dim % 2):
        raise ValueError(f"rope_store: qkv {tuple(qkv.shape)}, cache {tuple(keys.shape)}, cos/sin {tuple(cos.shape)}, "
                         f"{heads}+{kv_heads} heads and {tuple(slots.shape)} slots do not fit")
    if not all(t.is_contiguous() and t.dtype == qkv.dtype for t in (cos, sin, keys, values)):
        raise ValueError("rope_store: cos, sin and the cache must be contiguous and of qkv's dtype")
    slots, positions = slots.to(torch.int64).contiguous(), positions.to(torch.int64).contiguous()
    out = qkv.new_empty(rows, heads, dim)
    rc = native.kernel("rope_store", qkv.dtype)(
        qkv.data_ptr(), qkv.stride(0), cos.data_ptr(), sin.data_ptr(), out.data_ptr(), keys.data_ptr(),
        values.data_ptr(), slots.data_ptr(), positions.data_ptr(), rows, heads, kv_heads, dim, num_slots, context,
        torch.get_num_threads())
    if rc != 0:
        raise ValueError(f"rope_store: a slot or position lies outside the cache ({num_slots} slots × {context})")
    return out
