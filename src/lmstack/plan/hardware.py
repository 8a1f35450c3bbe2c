"""The devices a plan sizes models for: a table of GPU datasheets, or this machine as measured.

Peak numbers are the vendors' datasheet figures (dense bf16 matmul, no sparsity; fp16 where the
chip has no bf16). Kernels never reach a peak, so the planner uses *sustained* speeds: peak ×
an efficiency below. A measured machine (`lmstack.hardware.measure`) is already sustained.

    >>> gpu_device("H100", count=2).bandwidth_gbs        # doctest: +SKIP
    6030.0
"""

from __future__ import annotations

import difflib
import os
from dataclasses import asdict, dataclass

from lmstack.errors import UserError
from lmstack.hardware.measure import Measurements

# Sustained share of datasheet bandwidth: a device-to-device copy moved ~4.3 of 4.8 TB/s on an H200
# (measured on an H200 machine lent to this project, see the device notes; one machine, one run).
GPU_BANDWIDTH_EFFICIENCY = 0.9
# Sustained share of datasheet dense bf16 FLOP/s: an 8192³ bf16 matmul ran at 769–798 of 989 TFLOP/s
# on the same H200 machines, random operands.
GPU_MATMUL_EFFICIENCY = 0.8
# Share of a device's memory a server may fill with weights and KV cache: vLLM's default
# gpu_memory_utilization; the rest is activations, CUDA context and fragmentation.
GPU_USABLE_MEMORY_SHARE = 0.9
# Share of this machine's RAM a model may take: the OS, the tokenizer and the server need the rest.
CPU_USABLE_MEMORY_SHARE = 0.7


# The build machine's figures (2-core AMD EPYC, AVX-512 bf16, 1 torch thread; measured in the calibration
# run of benchmarks/plan/speed.py, RESULTS.md there): what `lmstack plan --no-measure` assumes.
REFERENCE_CPU = Measurements(device="cpu", threads=1, read_bandwidth_gbs=44.9, gemv_bandwidth_gbs_fp32=27.0,
                             gemv_bandwidth_gbs_bf16=18.7, matmul_gflops_fp32=121.0, matmul_gflops_bf16=467.0,
                             seconds=0.0)


@dataclass(frozen=True)
class GpuSpec:
    memory_gb: float
    bandwidth_gbs: float
    bf16_tflops: float


# name → datasheet figures (SXM parts where there are several; A10/L4/L40S/T4 PCIe).
GPUS: dict[str, GpuSpec] = {
    "H200": GpuSpec(141, 4800, 989),
    "H100": GpuSpec(80, 3350, 989),
    "A100-80G": GpuSpec(80, 2039, 312),
    "A100-40G": GpuSpec(40, 1555, 312),
    "L40S": GpuSpec(48, 864, 362),
    "L4": GpuSpec(24, 300, 121),
    "A10": GpuSpec(24, 600, 125),
    "RTX-4090": GpuSpec(24, 1008, 165),
    "V100": GpuSpec(32, 900, 125),  # fp16 tensor cores; no bf16
    "T4": GpuSpec(16, 320, 65),  # fp16 tensor cores; no bf16
}


@dataclass(frozen=True)
class Device:
    """Sustained speeds of one replica's devices, all `count` of them together."""

    name: str
    count: int
    memory_gb: float
    """Memory a model may use on one device (usable share applied)."""
    bandwidth_gbs: float
    """Sustained memory bandwidth of all devices together, GB/s."""
    flops: float
    """Sustained matmul FLOP/s of all devices together."""
    source: str
    """'datasheet' or 'measured'."""
    is_gpu: bool

    @property
    def total_memory_gb(self) -> float:
        return self.memory_gb * self.count

    def to_dict(self) -> dict:
        return asdict(self)


def canonical_gpu(name: str) -> str:
    """The table's spelling of `name` ('h100', 'a100_80g', 'RTX 4090' all resolve); UserError if unknown."""
    def key(text: str) -> str:
        return "".join(c for c in text.upper() if c.isalnum())

    by_key = {key(n): n for n in GPUS}
    if key(name) in by_key:
        return by_key[key(name)]
    close = difflib.get_close_matches(name.upper(), list(GPUS), n=1, cutoff=0.3)
    hint = (f"did you mean {close[0]}? " if close else "") + f"known devices: cpu, {', '.join(GPUS)}"
    raise UserError(f"plan.hardware.device: unknown device {name!r}", hint=hint)


def gpu_device(name: str, count: int = 1, memory_gb: float | None = None) -> Device:
    """`count` GPUs of the table's type `name`, at sustained speeds."""
    name = canonical_gpu(name)
    spec = GPUS[name]
    return Device(
        name=name, count=count,
        memory_gb=(memory_gb if memory_gb is not None else spec.memory_gb) * GPU_USABLE_MEMORY_SHARE,
        bandwidth_gbs=spec.bandwidth_gbs * GPU_BANDWIDTH_EFFICIENCY * count,
        flops=spec.bf16_tflops * 1e12 * GPU_MATMUL_EFFICIENCY * count,
        source="datasheet", is_gpu=True,
    )


def measured_device(measurements, memory_gb: float | None, count: int = 1) -> Device:
    """This machine from `lmstack.hardware.measure.Measurements`: bf16 GEMV bandwidth and matmul where
    native (decode streams bf16 weights), fp32 otherwise; `memory_gb` is its RAM."""
    bandwidth = measurements.gemv_bandwidth_gbs_bf16 or measurements.gemv_bandwidth_gbs_fp32
    gflops = measurements.matmul_gflops_bf16 or measurements.matmul_gflops_fp32
    if memory_gb is None:
        raise UserError("the machine's memory is unknown", hint="set plan.hardware.memory_gb")
    return Device(name=f"cpu ({measurements.threads} thread{'' if measurements.threads == 1 else 's'})", count=count,
                  memory_gb=memory_gb * CPU_USABLE_MEMORY_SHARE, bandwidth_gbs=bandwidth * count,
                  flops=gflops * 1e9 * count, source="measured", is_gpu=False)


def this_machine_memory_gb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (AttributeError, ValueError, OSError):
        return None
