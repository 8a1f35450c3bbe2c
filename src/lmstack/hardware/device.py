"""Choose device, dtype and thread count automatically; every choice can be overridden.

- device: CUDA if present, then Apple MPS, else CPU.
- dtype: the dtype parameters are held in. bf16 on GPUs that support it (fp16 otherwise);
  fp32 on CPU, where bf16 is used for compute through autocast instead (`autocast_dtype`),
  because bf16 weights on CPU lose precision in optimiser updates for little speed gain.
- threads: one per physical core (hyper-threads slow matmuls down).
"""

from __future__ import annotations

import os
from contextlib import nullcontext

import torch

from lmstack.errors import UserError

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = {"auto": None, "float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
          "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}


def resolve_device(spec: str = "auto") -> torch.device:
    """'auto' → cuda, mps or cpu, whichever is present; 'cuda:1' etc. are checked to exist."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as e:
        raise UserError(f"unknown device {spec!r}", hint=f"use one of {', '.join(DEVICES)} (or cuda:N)") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {spec!r} was asked for but no CUDA device is visible",
                        hint="use device=auto or device=cpu, or check the driver with `nvidia-smi`")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserError(f"device {spec!r} does not exist: {torch.cuda.device_count()} CUDA device(s) are visible",
                        hint="number devices from 0, or check CUDA_VISIBLE_DEVICES")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError("device 'mps' was asked for but Apple MPS is not available", hint="use device=cpu")
    return device


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matmuls (AVX-512 BF16 or AMX through oneDNN)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_dtype(spec: str, device: torch.device) -> torch.dtype:
    """The dtype model parameters are held in on `device` ('auto' as in the module docstring)."""
    if spec not in DTYPES:
        raise UserError(f"unknown dtype {spec!r}", hint=f"use one of {', '.join(DTYPES)}")
    if DTYPES[spec] is not None:
        return DTYPES[spec]
    if device.type == "cuda":
        return torch.bfloat16 if cuda_supports_bf16() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


def cuda_supports_bf16() -> bool:
    """Native bf16 only (Ampere and later); emulated bf16 on older GPUs is slower than fp16."""
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)


def autocast_dtype(device: torch.device, param_dtype: torch.dtype, enabled: bool = True) -> torch.dtype | None:
    """The dtype compute runs in under autocast, or None when autocast is not worth it."""
    if not enabled or param_dtype != torch.float32:
        return None
    if device.type == "cpu":
        return torch.bfloat16 if cpu_supports_bf16() else None
    if device.type == "cuda":
        return torch.bfloat16 if cuda_supports_bf16() else torch.float16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None):
    """`torch.autocast` for `dtype`, or a no-op context when dtype is None."""
    return torch.autocast(device_type=device.type, dtype=dtype) if dtype is not None else nullcontext()


def physical_cores() -> int:
    """Physical cores this process may run on: its allowed CPUs, SMT siblings counted once."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    cores = set()
    for cpu in cpus:
        try:
            with open(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list") as f:
                siblings = f.read().strip()
        except OSError:
            siblings = str(cpu)
        cores.add(min(p for part in siblings.split(",") for p in _expand(part)))
    return max(1, len(cores))


def _expand(part: str) -> list[int]:
    if "-" in part:
        a, b = part.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(part)]


def resolve_threads(spec: int | str = "auto") -> int:
    """Set torch's intra-op thread count ('auto' = physical cores) and return it."""
    if spec == "auto":
        n = physical_cores()
    else:
        try:
            n = int(spec)
        except (TypeError, ValueError) as e:
            raise UserError(f"threads must be 'auto' or a positive integer, got {spec!r}") from e
        if n < 1:
            raise UserError(f"threads must be 'auto' or a positive integer, got {spec!r}")
    torch.set_num_threads(n)
    return n
