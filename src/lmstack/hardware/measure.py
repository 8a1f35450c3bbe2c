"""How fast this machine streams memory and multiplies matrices: BW and F of REFERENCE.md's roofline.

Decode is bound by how fast weights stream from memory (GEMV bandwidth), prefill and training by
matmul FLOP/s (GEMM); `lmstack plan` and the benchmarks turn these numbers into tokens/s bounds.
A run takes about `budget_s` seconds (a little less on fast machines):

    >>> from lmstack.hardware.measure import measure
    >>> measure(budget_s=3.0).to_dict()  # doctest: +SKIP
    {'device': 'cpu', 'threads': 2, 'read_bandwidth_gbs': 34.3, 'gemv_bandwidth_gbs_fp32': 22.1, ...}
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from lmstack.errors import UserError
from lmstack.hardware.device import cpu_supports_bf16, resolve_threads

# Streamed buffers must dwarf the last-level cache, or cache hits pass for memory bandwidth.
STREAM_CACHE_MULTIPLE = 4
STREAM_MIN_BYTES = 256 * 2**20
# One streamed buffer alive at a time plus GEMMs of at most 3 × 64 MiB keeps the peak under 1 GB.
STREAM_MAX_BYTES = 512 * 2**20
# The hidden size of 1B–8B models: the (out, in) weight shape a decode step multiplies by.
GEMV_IN_FEATURES = 4096
# 1024³ is already compute-bound on a CPU; GPUs need the larger sizes to fill their cores.
GEMM_SIZES = (1024, 2048, 4096)
# GPU kernels can finish in microseconds: time batches at least this long so sync overhead fades.
MIN_BATCH_S = 1e-3
# More timed batches than this no longer move the best time; fast machines finish early.
MAX_BATCHES = 20
# GEMMs get twice the time of streaming measurements: one call is slower and its speed noisier.
STREAM_WEIGHT, GEMM_WEIGHT = 1.0, 2.0


@dataclass(frozen=True)
class Measurements:
    """Sustained speeds of one device, measured in `seconds` with `threads` intra-op threads.

    Bandwidths are GB/s (10⁹ bytes) of data read; GEMV counts the weight matrix only. bf16 fields
    are None where the device has no native bf16 matmuls.
    """

    device: str
    threads: int
    read_bandwidth_gbs: float
    gemv_bandwidth_gbs_fp32: float
    gemv_bandwidth_gbs_bf16: float | None
    matmul_gflops_fp32: float
    matmul_gflops_bf16: float | None
    seconds: float

    def to_dict(self) -> dict[str, str | int | float | None]:
        return asdict(self)


def measure(device: torch.device | None = None, budget_s: float = 3.0,
            threads: int | str = "auto") -> Measurements:
    """Measure read bandwidth, GEMV bandwidth and GEMM FLOP/s on `device` (CPU by default).

    On CPU, torch runs with `threads` threads ('auto' = physical cores, as lmstack's runs do) and
    the caller's thread count is restored afterwards.
    """
    device = device if device is not None else torch.device("cpu")
    if budget_s <= 0:
        raise UserError(f"the measurement budget must be positive, got {budget_s} s")
    start = time.perf_counter()
    bf16 = bf16_supported(device)
    threads_before = torch.get_num_threads()
    try:
        threads_used = resolve_threads(threads) if device.type == "cpu" else threads_before
        budget = _Budget(budget_s, total_weight=(3 if bf16 else 2) * STREAM_WEIGHT
                         + (2 if bf16 else 1) * GEMM_WEIGHT)
        read_gbs, gemv_fp32_gbs, gemv_bf16_gbs = _stream_bandwidths_gbs(device, bf16, budget)
        gemm_fp32 = _gemm_gflops(device, torch.float32, budget.share_s(GEMM_WEIGHT))
        gemm_bf16 = _gemm_gflops(device, torch.bfloat16, budget.share_s(GEMM_WEIGHT)) if bf16 else None
    finally:
        if torch.get_num_threads() != threads_before:
            torch.set_num_threads(threads_before)
    return Measurements(device=str(device), threads=threads_used, read_bandwidth_gbs=read_gbs,
                        gemv_bandwidth_gbs_fp32=gemv_fp32_gbs, gemv_bandwidth_gbs_bf16=gemv_bf16_gbs,
                        matmul_gflops_fp32=gemm_fp32, matmul_gflops_bf16=gemm_bf16,
                        seconds=time.perf_counter() - start)


def bf16_supported(device: torch.device) -> bool:
    """True when `device` multiplies bf16 natively; emulated bf16 would measure the emulation."""
    if device.type == "cpu":
        return cpu_supports_bf16()
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    # MPS bf16 depends on the macOS version; fp32 is what such machines are sized by.
    return False


class _Budget:
    """Splits the time left between the measurements still to run, by weight.

    Shares are taken from what is left when each measurement starts, so an overrun (a slow
    allocation, a slow first call) is absorbed by the measurements after it.
    """

    def __init__(self, budget_s: float, total_weight: float):
        self.deadline = time.perf_counter() + budget_s
        self.weight_left = total_weight

    def share_s(self, weight: float) -> float:
        left_s = max(0.0, self.deadline - time.perf_counter())
        share = left_s * weight / self.weight_left
        self.weight_left -= weight
        return share


def _stream_bandwidths_gbs(device: torch.device, bf16: bool,
                           budget: _Budget) -> tuple[float, float, float | None]:
    """Read, fp32-GEMV and bf16-GEMV bandwidth in GB/s, all streaming the same buffer."""
    nbytes = _stream_bytes(device)
    # Byte 0x3F reads as ≈0.75 in both fp32 and bf16: one fill serves all three measurements,
    # and no value is denormal (denormals slow CPU arithmetic down).
    buffer = torch.full((nbytes,), 0x3F, dtype=torch.uint8, device=device)
    as_fp32 = buffer.view(torch.float32)
    # A reduction reads every byte once and does almost no arithmetic per byte.
    read_s = _best_seconds(lambda: as_fp32.sum(), device, budget.share_s(STREAM_WEIGHT))
    gemv_fp32_s = _gemv_seconds(buffer, torch.float32, device, budget.share_s(STREAM_WEIGHT))
    gemv_bf16_s = _gemv_seconds(buffer, torch.bfloat16, device, budget.share_s(STREAM_WEIGHT)) if bf16 else None
    return (nbytes / read_s / 1e9, nbytes / gemv_fp32_s / 1e9,
            nbytes / gemv_bf16_s / 1e9 if gemv_bf16_s is not None else None)


def _gemv_seconds(buffer: torch.Tensor, dtype: torch.dtype, device: torch.device, share_s: float) -> float:
    """Time of one decode-shaped matrix-vector product over all of `buffer` as weights."""
    weight = buffer.view(dtype).view(-1, GEMV_IN_FEATURES)  # (out, in), as nn.Linear holds it
    x = torch.full((1, GEMV_IN_FEATURES), 0.5, dtype=dtype, device=device)  # (1, in): one token
    # F.linear, not torch.mv: it is the kernel decode runs, and CPU bf16 mv is ~40% slower.
    return _best_seconds(lambda: F.linear(x, weight), device, share_s)  # (1, out)


def _gemm_gflops(device: torch.device, dtype: torch.dtype, share_s: float) -> float:
    """GFLOP/s of (n, n) @ (n, n), n the largest of GEMM_SIZES whose timing fits in `share_s`."""
    start = time.perf_counter()
    n = GEMM_SIZES[0]
    matmul = _square_matmul(n, dtype, device)
    call_s = _best_seconds(matmul, device, share_s=0.0)  # a probe: warm-up and one timed call
    for larger in GEMM_SIZES[1:]:
        larger_call_s = call_s * (larger / n) ** 3
        # Room for a warm-up and three timed calls, or the best-of has too little to choose from.
        if time.perf_counter() - start + 4 * larger_call_s > share_s:
            break
        n, call_s = larger, larger_call_s
    if n != GEMM_SIZES[0]:
        matmul = _square_matmul(n, dtype, device)
    best_s = _best_seconds(matmul, device, share_s - (time.perf_counter() - start))
    return 2 * n**3 / best_s / 1e9


def _square_matmul(n: int, dtype: torch.dtype, device: torch.device) -> Callable[[], torch.Tensor]:
    # Random operands: GPUs clock higher on constant data (less switching power) and would flatter.
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    # A preallocated output keeps allocation and page faults out of the timing.
    out = torch.empty(n, n, dtype=dtype, device=device)
    return lambda: torch.mm(a, b, out=out)


def _best_seconds(fn: Callable[[], object], device: torch.device, share_s: float) -> float:
    """Fastest time of one call of `fn` seen within `share_s` (at least one timed call).

    Best-of, not median: the roofline is an upper bound, and slower calls are other processes or
    clock changes getting in the way, not the hardware's limit.
    """
    start = time.perf_counter()
    # The first call pays for allocation, kernel selection and starting threads: not timed.
    _timed_s(fn, device, calls=1)
    best_s = _timed_s(fn, device, calls=1)
    calls = max(1, math.ceil(MIN_BATCH_S / best_s))
    for _ in range(MAX_BATCHES):
        if time.perf_counter() - start + best_s * calls > share_s:
            break
        best_s = min(best_s, _timed_s(fn, device, calls) / calls)
    return best_s


def _timed_s(fn: Callable[[], object], device: torch.device, calls: int) -> float:
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    _synchronize(device)
    return time.perf_counter() - start


def _synchronize(device: torch.device) -> None:
    # GPU calls return before the kernel ends; without a sync the timing measures the launch.
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _stream_bytes(device: torch.device) -> int:
    nbytes = min(STREAM_MAX_BYTES, max(STREAM_MIN_BYTES, STREAM_CACHE_MULTIPLE * _last_level_cache_bytes(device)))
    row_bytes = GEMV_IN_FEATURES * torch.float32.itemsize
    return nbytes - nbytes % row_bytes  # whole fp32 rows, hence whole bf16 rows too


def _last_level_cache_bytes(device: torch.device) -> int:
    """Largest cache in front of `device`'s memory; 0 where it cannot be read (the floor applies)."""
    if device.type == "cuda":
        return int(getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0))
    sizes = []
    for path in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        try:
            sizes.append(_parse_cache_size(path.read_text()))
        except (OSError, ValueError):
            continue
    return max(sizes, default=0)


def _parse_cache_size(text: str) -> int:
    """sysfs cache size ('32768K', '1M') in bytes."""
    text = text.strip()
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    if text[-1:] in units:
        return int(text[:-1]) * units[text[-1]]
    return int(text)
