"""Decode attention over the slot KV cache with lmstack's CPU kernel, where it is built.

    >>> out = decode_attention(q, keys, values, lengths, starts, scale)   # doctest: +SKIP

`q` is one step's queries grouped by KV head, (B, H, G, D): row b's G = Hq / H query heads that
share KV head h. `keys` and `values` are one layer's whole cache buffers (slots, H, C, D); row b reads
slot `slots[b]` (by default slot b) and sees its keys [starts[b], lengths[b]). A prompt chunk's tokens
are rows of one slot, each seeing the keys up to its own position (`kv_cache.attend` runs a whole
step, decode rows and prompt chunks, in one call). The kernel (`csrc/decode_attention.c`, see
`native`) reads each (row, head)'s K and V once, in their stored dtype, and computes in fp32; torch's
SDPA does the same work at several times the cost (benchmarks/serve/RESULTS.md). `available()` says
whether it can run here; `kv_cache.attend` falls back to SDPA otherwise.
"""

from __future__ import annotations

import torch

from lmstack.serve.engine import native


def available(keys: torch.Tensor) -> bool:
    """Whether the kernel can serve a cache like `keys`: built here, on the CPU, bf16 or fp32, contiguous."""
    return native.usable(keys)


def decode_attention(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, lengths: torch.Tensor,
                     starts: torch.Tensor | None, scale: float, slots: torch.Tensor | None = None) -> torch.Tensor:
    """(B, H, G, D) attention output in q's dtype; see the module docstring for the shapes (`starts`
    None: every row from position 0; `slots` None: row b reads slot b)."""
    fn = native.kernel("decode_attention", keys.dtype)
    b, heads, group, dim = q.shape
    num_slots, kv_heads, context, kv_dim = keys.shape
    if (kv_heads, kv_dim) != (heads, dim) or values.shape != keys.shape or values.dtype != keys.dtype:
        raise ValueError(f"queries {tuple(q.shape)} do not match the cache {tuple(keys.shape)}")
    if ((slots is None and b > num_slots) or lengths.shape != (b,) or (starts is not None and starts.shape != (b,))
            or (slots is not None and slots.shape != (b,))):
        raise ValueError(f"{b} rows need {b} lengths, starts and slots within {num_slots} slots")
    if not (keys.is_contiguous() and values.is_contiguous()):
        raise ValueError("the cache buffers must be contiguous")
    qc = q.to(keys.dtype).contiguous()  # no copy in the engine: queries come in the cache's dtype, contiguous
    lengths = lengths.to(torch.int64).contiguous()
    if starts is not None:
        starts = starts.to(torch.int64).contiguous()
    if slots is not None:
        slots = slots.to(torch.int64).contiguous()
    out = torch.empty_like(qc)
    rc = fn(qc.data_ptr(), keys.data_ptr(), values.data_ptr(), slots.data_ptr() if slots is not None else None,
            lengths.data_ptr(), starts.data_ptr() if starts is not None else None, out.data_ptr(), b, num_slots,
            heads, group, dim, context, float(scale), torch.get_num_threads())
    if rc == -2:
        raise ValueError(f"every row must read a slot in [0, {num_slots}) and see keys [start, length) with "
                         f"0 <= start < length <= {context}")
    if rc != 0:
        raise MemoryError("decode attention could not allocate its scratch memory")
    return out.to(q.dtype)
