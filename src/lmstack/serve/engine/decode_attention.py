"""Decode attention over the slot KV cache with lmstack's CPU kernel, where it is built.

    >>> out = decode_attention(q, keys, values, lengths, starts, scale)   # doctest: +SKIP

`q` is one decode step's queries grouped by KV head, (B, H, G, D): row b's G = Hq / H query heads
that share KV head h. `keys` and `values` are one layer's whole cache buffers (slots, H, C, D), row b
living in slot b; row b sees keys [starts[b], lengths[b]). The kernel (`_decode_attention.c`, built
with the package when a C compiler with OpenMP is there) reads each (row, head)'s K and V once, in
their stored dtype, and computes in fp32; torch's SDPA does the same work at several times the cost
(benchmarks/serve/RESULTS.md). `available()` says whether it can run here; `kv_cache.attend` falls back
to SDPA otherwise, and `LMSTACK_DECODE_KERNEL=0` turns it off.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
from functools import cache

import torch

_KINDS = {torch.bfloat16: "bf16", torch.float32: "f32"}


@cache
def _library() -> ctypes.CDLL | None:
    if os.environ.get("LMSTACK_DECODE_KERNEL", "1") == "0":
        return None
    try:
        spec = importlib.util.find_spec("lmstack.serve.engine._decode_attention")
    except ImportError:
        return None
    if spec is None or spec.origin is None:
        return None
    lib = ctypes.CDLL(spec.origin)  # ctypes releases the GIL during each call
    p, i64 = ctypes.c_void_p, ctypes.c_int64
    for kind in _KINDS.values():
        fn = getattr(lib, f"lmstack_decode_attention_{kind}")
        fn.argtypes = [p, p, p, p, p, p, i64, i64, i64, i64, i64, ctypes.c_float, ctypes.c_int]
        fn.restype = ctypes.c_int
    return lib


def available(keys: torch.Tensor) -> bool:
    """Whether the kernel can serve a cache like `keys`: built here, on the CPU, bf16 or fp32, contiguous."""
    return (keys.device.type == "cpu" and keys.dtype in _KINDS and keys.is_contiguous()
            and _library() is not None)


def decode_attention(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, lengths: torch.Tensor,
                     starts: torch.Tensor, scale: float) -> torch.Tensor:
    """(B, H, G, D) attention output in q's dtype; see the module docstring for the shapes."""
    lib = _library()
    if lib is None:
        raise RuntimeError("the decode attention kernel is not built; check available() first")
    b, heads, group, dim = q.shape
    slots, kv_heads, context, kv_dim = keys.shape
    if (kv_heads, kv_dim) != (heads, dim) or values.shape != keys.shape or values.dtype != keys.dtype:
        raise ValueError(f"queries {tuple(q.shape)} do not match the cache {tuple(keys.shape)}")
    if b > slots or lengths.shape != (b,) or starts.shape != (b,):
        raise ValueError(f"{b} rows need {b} lengths and starts within {slots} slots")
    if not (keys.is_contiguous() and values.is_contiguous()):
        raise ValueError("the cache buffers must be contiguous")
    qf = q.to(torch.float32).contiguous()
    lengths = lengths.to(torch.int64).contiguous()
    starts = starts.to(torch.int64).contiguous()
    out = torch.empty_like(qf)
    fn = getattr(lib, f"lmstack_decode_attention_{_KINDS[keys.dtype]}")
    rc = fn(qf.data_ptr(), keys.data_ptr(), values.data_ptr(), lengths.data_ptr(), starts.data_ptr(),
            out.data_ptr(), b, heads, group, dim, context, float(scale), torch.get_num_threads())
    if rc == -2:
        raise ValueError(f"every row must see keys [start, length) with 0 <= start < length <= {context}")
    if rc != 0:
        raise MemoryError("decode attention could not allocate its scratch memory")
    return out.to(q.dtype)
