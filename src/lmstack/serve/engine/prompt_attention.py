"""A prompt chunk's causal attention over the slot KV cache with lmstack's blocked CPU kernel.

    >>> out = prompt_attention(q, keys, values, slot=3, start=512, window=None, scale=0.125)  # doctest: +SKIP

`q` is a chunk of L prompt tokens' queries grouped by KV head, (L, H, G, D), at positions start..
start + L - 1 of `slot`; `keys` and `values` are one layer's cache buffers (slots, H, C, D), holding
the chunk's own keys already. Token r sees the keys up to its own position (the last `window` of
them with a sliding window). `decode_attention` serves such rows one by one, reading each row's K
and V again; the kernel here (`csrc/prompt_attention.c`) takes 32 rows × 16 keys at a time with
bf16 dot products, which pays off from a few dozen rows on: the prefill of a 2,048-token prompt of a
125M model takes 1.18× less time, its attention 1.7× less (benchmarks/serve/long_prompt.py). Where
the CPU has AMX tiles and the OS grants them, both products run on the tiles instead
(`csrc/prompt_attention_amx.c`, blocks of 32 keys, the softmax weights rounded to bf16 for P·V): the
2,048-token prefill 1.4–1.6× faster again, its attention 2.5–2.9× (a 2-core Xeon).
`available` says whether it runs here: AVX-512 BF16, a bf16 cache, heads of 64 or 128.
"""

from __future__ import annotations

from functools import cache

import torch

from lmstack.serve.engine import native

HEAD_SIZES = (64, 128)
MIN_ROWS = 32  # shorter chunks stay with decode_attention: even at 16 rows, 1.5–1.8× slower from 32 (Zen 4)


def available(keys: torch.Tensor) -> bool:
    """Whether the kernel serves a cache like `keys` here (slots, H, C, D)."""
    if keys.dtype != torch.bfloat16 or keys.dim() != 4 or keys.shape[-1] not in HEAD_SIZES or not native.usable(keys):
        return False
    return _cpu_supported(native.library())


@cache
def _cpu_supported(library) -> bool:  # per loaded library: LMSTACK_KERNELS=0 unloads it
    return bool(library.lmstack_prompt_attention_supported())


def amx_available() -> bool:
    """Whether the AMX form runs here: the kernels built, AMX-BF16 tiles granted by the OS."""
    library = native.library()
    return library is not None and _amx_supported(library)


@cache
def _amx_supported(library) -> bool:
    return bool(library.lmstack_prompt_attention_amx_supported())


def prompt_attention(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, *, slot: int, start: int,
                     window: int | None, scale: float, out: torch.Tensor | None = None,
                     amx: bool | None = None) -> torch.Tensor:
    """(L, H, G, D) attention output in bf16 (written into `out` when given); see the module docstring.

    `amx`: None takes the AMX form where it runs; False the AVX-512 BF16 form; True the AMX form."""
    length, heads, group, dim = q.shape
    num_slots, kv_heads, context, kv_dim = keys.shape
    if (kv_heads, kv_dim) != (heads, dim) or values.shape != keys.shape or values.dtype != keys.dtype:
        raise ValueError(f"queries {tuple(q.shape)} do not match the cache {tuple(keys.shape)}")
    if not (0 <= slot < num_slots and 0 <= start and start + length <= context):
        raise ValueError(f"a chunk of {length} tokens at position {start} of slot {slot} does not fit a cache of "
                         f"{num_slots} slots × {context} positions")
    qc = q.to(torch.bfloat16).contiguous()
    if out is None:
        out = torch.empty_like(qc)
    elif out.shape != qc.shape or out.dtype != torch.bfloat16 or not out.is_contiguous():
        raise ValueError(f"out must be a contiguous bf16 tensor of {tuple(qc.shape)}")
    if amx is None:
        amx = amx_available()
    rc = native.kernel("prompt_attention_amx" if amx else "prompt_attention", torch.bfloat16)(
        qc.data_ptr(), keys.data_ptr(), values.data_ptr(), out.data_ptr(), length, num_slots, heads, group, dim,
        context, slot, start, window or 0, float(scale), torch.get_num_threads())
    if rc == -2:
        raise ValueError("prompt attention does not run here: it needs AVX-512 BF16 (and AMX tiles for amx=True) "
                         "and heads of 64 or 128 (check available() first)")
    if rc != 0:
        raise MemoryError("prompt attention could not allocate its scratch memory")
    return out
