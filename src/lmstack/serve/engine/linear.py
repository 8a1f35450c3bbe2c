"""bf16 linear layers through lmstack's own kernels (`csrc/linear.c`, `csrc/linear_amx.c`), weights packed once.

    >>> qkv = PackedLinear.build([attn.q_proj, attn.k_proj, attn.v_proj])   # doctest: +SKIP
    >>> y = qkv(x)   # (rows, q + k + v) in bf16: the three layers' outputs side by side

A decode step multiplies each weight matrix by a few rows, one per running sequence: its time is
the time to read the weights. The packed layout holds, per block of 16 output features, each pair
of input features' 16 × 2 weights side by side: one 64-byte load is the right-hand side of one
AVX-512 BF16 dot product (VDPBF16PS) for 16 outputs, and 16 such rows are one AMX weight tile. On
CPUs with AMX tiles the product runs on them (`linear_amx.c`: up to 16 rows × 64 features of sums
per task, the weights streamed once per 16 rows), else on AVX-512 BF16 (`linear.c`: up to 6 rows ×
64 features in registers, longer inputs in 64-row panels over L1-sized chunks of the weights). Either way 1 to 16 rows cost about one pass over the weights
(benchmarks/serve/RESULTS.md has the numbers against oneDNN's packed GEMM). The packed copy is made
once, when the engine starts; the model's own weights are not changed. `build` returns None where
the kernel cannot run (no AVX-512 BF16, LMSTACK_KERNELS=0, another dtype or device, an odd input
size): the caller keeps its own path.

Which product is faster depends on the CPU and the row count: the AVX-512 BF16 kernel falls behind
oneDNN's AMX GEMM from about 8 rows on, where a CPU has AMX and the OS grants it. `LinearPlan.choose`
times lmstack's kernel and oneDNN on the model's own layers when the engine starts and keeps the
kernel for the row counts where it wins, oneDNN above (`RowSwitch`); `LMSTACK_LINEAR=kernel|onednn`
fixes the choice instead of measuring.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from lmstack.serve.engine import huge_pages, native

BLOCK, GROUP = 16, 4  # output features per packed block, blocks per kernel task (csrc/linear.c)
ALL_ROWS = sys.maxsize  # LinearPlan.kernel_rows: the kernel at every row count
MODES = ("auto", "kernel", "onednn")  # LMSTACK_LINEAR
DECODE_ROWS = (1, 2, 4, 8, 16, 32, 64)  # LinearPlan.measure: row counts of steps without a full prompt chunk
STEP_ROWS = 264  # … and of a step with a prompt chunk, where the engine does not say (256 prompt tokens + 8 decoding)
_ARENA = huge_pages.Arena()  # every packed weight of the process

log = logging.getLogger(__name__)
Linear = Callable[[torch.Tensor], torch.Tensor]


def available() -> bool:
    """Whether the kernel is built and this CPU runs it."""
    lib = native.library()
    return lib is not None and bool(lib.lmstack_linear_supported())


def amx_available() -> bool:
    """Whether this CPU and OS give the kernel AMX tiles (`csrc/linear_amx.c`)."""
    lib = native.library()
    return lib is not None and bool(lib.lmstack_linear_amx_supported())


def pack(weight: torch.Tensor) -> torch.Tensor:
    """(N, K) bf16 → (ceil(N/64)·4, K/2, 16, 2): per block of 16 output features, the pairs of inputs."""
    n, k = weight.shape
    padded = -(-n // (BLOCK * GROUP)) * BLOCK * GROUP
    w = torch.zeros(padded, k, dtype=torch.bfloat16)
    w[:n] = weight
    out = _ARENA.empty((padded // BLOCK, k // 2, BLOCK, 2), torch.bfloat16)  # streamed every step: 2 MB pages
    return out.copy_(w.view(padded // BLOCK, BLOCK, k // 2, 2).transpose(1, 2))


class PackedLinear:
    """Linear layers that read the same input, as one bf16 product on the packed weights."""

    def __init__(self, packed: torch.Tensor, bias: torch.Tensor | None, in_features: int, out_features: int,
                 amx: bool = False):
        self.packed, self.bias = packed, bias
        self.in_features, self.out_features = in_features, out_features
        self.amx = amx  # AMX tiles (linear_amx.c) rather than AVX-512 BF16 dot products (linear.c)

    @classmethod
    def build(cls, linears: list[nn.Linear]) -> PackedLinear | None:
        """One packed product for `linears` (outputs side by side), or None where the kernel does not apply."""
        weights = [m.weight for m in linears]
        k = weights[0].shape[1]
        if (not available() or k % 2 or any(w.shape[1] != k for w in weights)
                or any(w.dtype != torch.bfloat16 or w.device.type != "cpu" for w in weights)):
            return None
        with torch.no_grad():
            weight = torch.cat(weights) if len(weights) > 1 else weights[0]
            n = weight.shape[0]
            bias = None
            if any(m.bias is not None for m in linears):
                bias = torch.zeros(-(-n // (BLOCK * GROUP)) * BLOCK * GROUP)  # fp32, padded like the weight
                bias[:n] = torch.cat([m.bias if m.bias is not None else m.weight.new_zeros(m.out_features)
                                      for m in linears]).float()
            return cls(pack(weight), bias, k, n, amx=amx_available() and k % 32 == 0)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x (M, K) bf16 on the CPU → (M, N) bf16."""
        if x.dtype != torch.bfloat16 or x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"PackedLinear takes (rows, {self.in_features}) bf16, not {tuple(x.shape)} {x.dtype}")
        if x.stride(1) != 1 or x.stride(0) % 2 or x.data_ptr() % 4:
            x = x.contiguous()
        y = x.new_empty(x.shape[0], self.out_features)
        rc = native.kernel("linear_amx" if self.amx else "linear", torch.bfloat16)(
            x.data_ptr(), x.shape[0], x.stride(0), self.in_features, self.packed.data_ptr(),
            self.bias.data_ptr() if self.bias is not None else None, self.out_features, y.data_ptr(),
            self.out_features, torch.get_num_threads())
        if rc != 0:
            raise RuntimeError("lmstack's linear kernel does not run on this CPU (no AVX-512 BF16)")
        return y


class OneDNNLinear:
    """Linear layers that read the same input, as one product on a weight packed once for oneDNN."""

    def __init__(self, packed: torch.Tensor, bias: torch.Tensor | None):
        self.packed, self.bias = packed, bias

    @classmethod
    def build(cls, linears: list[nn.Linear]) -> OneDNNLinear:
        with torch.no_grad():
            weight = torch.cat([m.weight for m in linears]) if len(linears) > 1 else linears[0].weight
            bias = None
            if any(m.bias is not None for m in linears):
                bias = torch.cat([m.bias if m.bias is not None else weight.new_zeros(m.out_features) for m in linears])
            return cls(torch.ops.mkldnn._reorder_linear_weight(weight, 1), bias)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")


class RowSwitch:
    """`small` for inputs of up to `rows` rows, `large` above: each product where it is the faster one."""

    def __init__(self, small: Linear, large: Linear, rows: int):
        self.small, self.large, self.rows = small, large, rows

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.small(x) if x.shape[0] <= self.rows else self.large(x)


def _key(linears: list[nn.Linear]) -> tuple[int, ...]:
    return tuple(id(m) for m in linears)


def crossover(timings: dict[int, tuple[float, float]]) -> int:
    """The rows up to which the kernel is faster: from `timings` (rows → kernel, oneDNN seconds), the
    row counts in order until the kernel first loses; ALL_ROWS where it never does (both products
    gain FLOP/s alike with more rows once the weights are read once per step), 0 where it loses at once."""
    last = 0
    for rows in sorted(timings):
        kernel, onednn = timings[rows]
        if kernel >= onednn:
            return last
        last = rows
    return ALL_ROWS


def _wall_seconds(fns: Sequence[Callable[[], object]], repeats: int, warm_up: bool = True) -> list[list[float]]:
    """Wall times of each function, called in turn `repeats` times (a noisy machine slows all alike)."""
    times: list[list[float]] = [[] for _ in fns]
    if warm_up:
        for fn in fns:
            fn()  # first-touch pages, oneDNN's primitive cache
    for _ in range(repeats):
        for fn, seen in zip(fns, times):
            start = time.perf_counter()
            fn()
            seen.append(time.perf_counter() - start)
    return times


def _kernel_and_onednn_seconds(kernel: Callable[[], object], onednn: Callable[[], object],
                               repeats: int) -> tuple[float, float]:
    """Median seconds of each product. Where the kernel loses, the row count is timed again, twice as
    often, and decided on all the calls: one stall of the machine (another process, a page fault
    storm) during a handful of calls would otherwise fix the plan for the server's lifetime."""
    kernel_s, onednn_s = _wall_seconds([kernel, onednn], repeats)
    if statistics.median(kernel_s) >= statistics.median(onednn_s):
        again = _wall_seconds([kernel, onednn], 2 * repeats, warm_up=False)
        kernel_s, onednn_s = kernel_s + again[0], onednn_s + again[1]
    return statistics.median(kernel_s), statistics.median(onednn_s)


@dataclass(frozen=True)
class LinearPlan:
    """Which bf16 product runs the linear layers: lmstack's kernel up to `kernel_rows` rows, oneDNN above."""

    kernel_rows: int
    timings: dict[int, tuple[float, float]] = field(default_factory=dict)  # rows → (kernel, oneDNN) seconds
    source: str = "measured"
    # the layers `measure` packed, by their modules' ids: `build` takes them instead of packing again
    prepared: dict[tuple[int, ...], tuple[PackedLinear, OneDNNLinear]] = field(default_factory=dict, compare=False,
                                                                               repr=False)

    @classmethod
    def choose(cls, groups: list[list[nn.Linear]], mode: str | None = None, step_rows: int = STEP_ROWS) -> LinearPlan:
        """The plan for a model whose fused layers are `groups` (each a list reading the same input).

        `mode` (default: LMSTACK_LINEAR, else "auto"): "kernel" or "onednn" fixes the product, "auto"
        measures both (`measure`) at decode row counts and at `step_rows`, the rows of a step that
        holds a prompt chunk. Without the kernel (no AVX-512 BF16, LMSTACK_KERNELS=0) it is oneDNN."""
        mode = (mode or os.environ.get("LMSTACK_LINEAR") or "auto").strip().lower()
        if mode not in MODES:
            raise ValueError(f"LMSTACK_LINEAR={mode!r}: use one of {', '.join(MODES)}")
        if not available() or mode == "onednn":
            return cls(0, source="oneDNN only" if mode == "onednn" else "no kernel on this CPU")
        if mode == "kernel":
            return cls(ALL_ROWS, source="LMSTACK_LINEAR=kernel")
        return cls.measure(groups, rows=sorted({*(n for n in DECODE_ROWS if n < step_rows), step_rows}))

    @classmethod
    def measure(cls, groups: list[list[nn.Linear]], rows: Sequence[int] = (*DECODE_ROWS, STEP_ROWS),
                repeats: int = 5, sample_bytes: int = 64 << 20) -> LinearPlan:
        """Time both products on the model's first layers (at least `sample_bytes` of weights, more than
        the caches hold, as a step reads them) at each row count, until the kernel first loses (a loss
        is timed again before it counts: `_kernel_and_onednn_seconds`).

        The row counts are the engine's own, not round ones: oneDNN's AMX GEMM can be fast at 256 rows
        and ~1.6× slower at 264 (benchmarks/serve/RESULTS.md), and a step with a prompt chunk holds the
        chunk's tokens plus the rows that decode."""
        sample, prepared, size = [], {}, 0
        for group in groups:
            if size >= sample_bytes:
                break
            kernel = PackedLinear.build(group)
            if kernel is None:
                continue
            sample.append((kernel, OneDNNLinear.build(group)))
            prepared[_key(group)] = sample[-1]
            size += kernel.in_features * kernel.out_features * 2
        if not sample:
            return cls(0, source="no layer the kernel takes")
        timings: dict[int, tuple[float, float]] = {}
        generator = torch.Generator().manual_seed(0)
        with torch.inference_mode():
            for n in rows:
                xs = {k: torch.randn(n, k, generator=generator).to(torch.bfloat16) for k in {p.in_features for p, _ in sample}}
                kernel_s, onednn_s = _kernel_and_onednn_seconds(lambda: [p(xs[p.in_features]) for p, _ in sample],
                                                                lambda: [d(xs[p.in_features]) for p, d in sample],
                                                                repeats)
                timings[n] = (kernel_s, onednn_s)
                if kernel_s >= onednn_s:
                    break
        return cls(crossover(timings), timings, prepared=prepared)

    def build(self, linears: list[nn.Linear]) -> Linear:
        """The product for `linears` (outputs side by side) under this plan; the copy it does not use is dropped."""
        kernel, onednn = self.prepared.pop(_key(linears), (None, None))
        if self.kernel_rows == 0:
            kernel = None
        elif kernel is None:
            kernel = PackedLinear.build(linears)
        if kernel is None:
            return onednn or OneDNNLinear.build(linears)
        if self.kernel_rows == ALL_ROWS:
            return kernel
        return RowSwitch(kernel, onednn or OneDNNLinear.build(linears), self.kernel_rows)

    def describe(self) -> str:
        if self.kernel_rows == 0:
            which = "oneDNN at every row count"
        elif self.kernel_rows == ALL_ROWS:
            which = "lmstack's kernel at every row count"
        else:
            which = f"lmstack's kernel up to {self.kernel_rows} rows, oneDNN above"
        measured = ", ".join(f"{n} rows {k * 1e3:.2f}/{d * 1e3:.2f} ms" for n, (k, d) in sorted(self.timings.items()))
        return f"bf16 linear layers: {which} ({self.source}{': kernel/oneDNN ' + measured if measured else ''})"
