"""lmstack's CPU kernels (`csrc/`), loaded once through ctypes.

The install builds them into the `lmstack.serve.engine._kernels` extension (setup.py) when a C compiler
with OpenMP is there; it is optional, and every caller keeps a torch path for when it is missing, for
other devices and dtypes, and for `LMSTACK_KERNELS=0`. The kernels:

- `decode_attention` (csrc/decode_attention.c): one engine step's attention over the slot cache,
  each row reading its own slot up to its own position (`decode_attention_loop`, bf16 only: its plain loop form, for comparisons);
- `prompt_attention` (csrc/prompt_attention.c): a long prompt chunk's causal attention over its slot,
  in blocks of 32 rows × 16 keys, on CPUs with AVX-512 BF16 (`lmstack_prompt_attention_supported`);
- `prompt_attention_amx` (csrc/prompt_attention_amx.c): the same on AMX tiles, blocks of 32 keys, on
  CPUs and kernels that grant them (`lmstack_prompt_attention_amx_supported`);
- `rms_norm`, `silu_mul`, `rope`, `rope_store` (csrc/pointwise.c): the decoder step's pointwise work,
  fused;
- `linear` (csrc/linear.c): bf16 linear layers over weights packed for AVX-512 BF16 (`linear.py`),
  on CPUs that have it (`lmstack_linear_supported`);
- `linear_amx` (csrc/linear_amx.c): the same product over the same packed weights on AMX tiles, on
  CPUs and kernels that grant them (`lmstack_linear_amx_supported`);
- `lmstack_decode_layers_bf16` (csrc/decoder_layers.c): every layer of a decode-only step, the calls
  above made from C (`native_layers`).

Each exists for bf16 and, except the linear ones, fp32 tensors (suffix `_bf16`, `_f32`). ctypes releases the
GIL during a call.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
from functools import cache

import torch

SUFFIX = {torch.bfloat16: "bf16", torch.float32: "f32"}

_P, _I64, _F, _INT = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_int
_BOTH = tuple(SUFFIX.values())
_SIGNATURES = {  # name: (argument types, result type, dtypes it exists for)
    "decode_attention": ([_P, _P, _P, _P, _P, _P, _P, _I64, _I64, _I64, _I64, _I64, _I64, _F, _INT], ctypes.c_int,
                         _BOTH),
    "decode_attention_loop": ([_P, _P, _P, _P, _P, _P, _P, _I64, _I64, _I64, _I64, _I64, _I64, _F, _INT],
                              ctypes.c_int, ("bf16",)),
    "prompt_attention": ([_P] * 4 + [_I64] * 9 + [_F, _INT], ctypes.c_int, ("bf16",)),
    "prompt_attention_amx": ([_P] * 4 + [_I64] * 9 + [_F, _INT], ctypes.c_int, ("bf16",)),
    "rms_norm": ([_P, _P, _P, _P, _I64, _I64, _F, _INT], None, _BOTH),
    "silu_mul": ([_P, _P, _I64, _I64, _INT], None, _BOTH),
    "rope": ([_P, _I64, _P, _P, _P, _I64, _I64, _I64, _INT], None, _BOTH),
    "rope_store": ([_P, _I64, _P, _P, _P, _P, _P, _P, _P, _I64, _I64, _I64, _I64, _I64, _I64, _INT], ctypes.c_int,
                   _BOTH),
    "linear": ([_P, _I64, _I64, _I64, _P, _P, _I64, _P, _I64, _INT], ctypes.c_int, ("bf16",)),
    "linear_amx": ([_P, _I64, _I64, _I64, _P, _P, _I64, _P, _I64, _INT], ctypes.c_int, ("bf16",)),
}


@cache
def library() -> ctypes.CDLL | None:
    """The kernels, or None: not built here, or switched off with LMSTACK_KERNELS=0."""
    if os.environ.get("LMSTACK_KERNELS", "1") == "0":
        return None
    spec = importlib.util.find_spec("lmstack.serve.engine._kernels")
    if spec is None or spec.origin is None:
        return None
    lib = ctypes.CDLL(spec.origin)
    for name, (args, result, suffixes) in _SIGNATURES.items():
        for suffix in suffixes:
            fn = getattr(lib, f"lmstack_{name}_{suffix}")
            fn.argtypes, fn.restype = args, result
    lib.lmstack_decode_layers_bf16.argtypes = [_P] * 3 + [_I64] + [_P] * 10 + [_INT]
    lib.lmstack_decode_layers_bf16.restype = ctypes.c_int
    for name in ("lmstack_linear_supported", "lmstack_linear_amx_supported", "lmstack_prompt_attention_supported",
                 "lmstack_prompt_attention_amx_supported"):
        getattr(lib, name).argtypes, getattr(lib, name).restype = [], ctypes.c_int
    return lib


def usable(*tensors: torch.Tensor) -> bool:
    """Whether the kernels can take these tensors: built, on the CPU, one dtype they have, contiguous."""
    dtype = tensors[0].dtype
    return (all(t.device.type == "cpu" and t.dtype == dtype and t.is_contiguous() for t in tensors)
            and dtype in SUFFIX and library() is not None)


def kernel(name: str, dtype: torch.dtype):
    """The C function `name` for `dtype` (check `usable` first)."""
    lib = library()
    if lib is None:
        raise RuntimeError("lmstack's CPU kernels are not built here (or LMSTACK_KERNELS=0); check usable() first")
    return getattr(lib, f"lmstack_{name}_{SUFFIX[dtype]}")
