"""Memory, speed, capacity, cost and training-time formulas: pure functions of numbers.

The speed bounds are the roofline of REFERENCE.md ("Physical limits"):

- a decode step over B sequences takes ≥ max((W + Σ KV) / BW, 2·P·B / F);
- prefill (time to first token) takes ≥ 2·P·prompt / F, and never less than one read of W;
- training takes 6·N·tokens FLOPs (forward 2N, backward 4N per token); with LoRA the frozen
  weights need no weight gradients, 4·N·tokens.

Bounds become expectations through an `Efficiency`: the share of the bound real code reaches,
measured where the comment on each constant says.

    >>> decode_step_s(weight_bytes=2e9, kv_bytes=0, active_params=1e9, batch=1,
    ...               bandwidth_bps=20e9, flops=400e9)
    0.1
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

HOURS_PER_MONTH = 730  # 365 × 24 / 12
BF16_BYTES = 2
FP32_BYTES = 4
# Adam keeps two fp32 moments per trainable parameter.
ADAM_BYTES_PER_PARAM = 2 * FP32_BYTES
# Full training holds fp32 weights (a bf16 copy is made per matmul by autocast) and fp32 grads:
# 4 + 4 + 8 = 16 bytes per parameter, the same total as mixed precision's 2 + 2 + 12.
FULL_WEIGHT_BYTES, FULL_GRAD_BYTES = FP32_BYTES, FP32_BYTES
# Forward 2 FLOPs per parameter per token; backward 4 (input grads 2, weight grads 2).
TRAIN_FLOPS_PER_PARAM_TOKEN = 6
LORA_FLOPS_PER_PARAM_TOKEN = 4  # frozen weights: input grads only
# Servers batch at most this many sequences per step (vLLM's default max_num_seqs).
MAX_BATCH = 256


@dataclass(frozen=True)
class Efficiency:
    """Share of the roofline that real code reaches on one kind of device."""

    decode: float
    """Single-stream decode speed ÷ its bandwidth bound."""
    step_overhead_s: float
    """Fixed time per decode step (sampling, cache bookkeeping, Python), seconds."""
    layer_overhead_s: float
    """Further fixed time per decode step per layer (kernel launches, small ops), seconds."""
    prefill: float
    """Prefill FLOP/s ÷ sustained matmul FLOP/s."""
    train_mfu: float
    """Training model FLOP/s (6·N per token) ÷ sustained matmul FLOP/s."""
    train_layer_overhead_s: float
    """Further fixed training time per token per layer (small ops, optimizer bookkeeping), seconds."""
    measured: bool
    """Whether lmstack measured these (benchmarks/plan) or they are assumed."""

    def to_dict(self) -> dict:
        return asdict(self)


# CPU constants: fitted to a calibration run of benchmarks/plan/speed.py (presets llama-5m, llama-20m,
# llama-125m; 1 torch thread on a 2-core AMD EPYC with AVX-512 bf16; HF generate with bf16 weights and the
# pretrain recipe with fp32 weights and bf16 autocast, 1,024 tokens per step), then checked in a separate
# run: benchmarks/plan/RESULTS.md has both tables. Small models are dominated by the per-layer overheads.
# At two threads on an idle machine HF generate reached 48% of the bandwidth bound for llama-125m
# (benchmarks/serve/RESULTS.md): multi-thread CPU plans may be optimistic.
CPU_EFFICIENCY = Efficiency(decode=0.75, step_overhead_s=0.0, layer_overhead_s=0.3e-3, prefill=0.75,
                            train_mfu=0.5, train_layer_overhead_s=2e-5, measured=True)
# GPU constants are assumed, not measured by lmstack: decode engines reach about half the bandwidth
# bound at small batches, and large training runs report 38–43% bf16 MFU on H100s (Llama 3 report).
GPU_EFFICIENCY = Efficiency(decode=0.5, step_overhead_s=0.0, layer_overhead_s=0.0, prefill=0.6, train_mfu=0.4,
                            train_layer_overhead_s=0.0, measured=False)


def weight_bytes(params: float, bytes_per_param: float = BF16_BYTES) -> float:
    return params * bytes_per_param


def kv_bytes_per_token(layers: int, kv_heads: int, head_dim: int, bytes_per_value: float = BF16_BYTES) -> float:
    """KV(1) = 2 (K and V) · layers · kv_heads · head_dim · bytes."""
    return 2 * layers * kv_heads * head_dim * bytes_per_value


def kv_cache_bytes(per_token: float, context_tokens: int, sequences: int) -> float:
    return per_token * context_tokens * sequences


def training_state_bytes(params: float, trainable: float | None = None) -> dict[str, float]:
    """Weights, gradients and Adam moments. `trainable` None: full training (fp32 weights and grads);
    else LoRA: frozen bf16 weights plus `trainable` adapter parameters trained in fp32."""
    if trainable is None:
        parts = {"weights": params * FULL_WEIGHT_BYTES, "grads": params * FULL_GRAD_BYTES,
                 "adam": params * ADAM_BYTES_PER_PARAM}
    else:
        parts = {"weights": params * BF16_BYTES + trainable * FP32_BYTES, "grads": trainable * FP32_BYTES,
                 "adam": trainable * ADAM_BYTES_PER_PARAM}
    return {**parts, "total": sum(parts.values())}


def decode_step_s(*, weight_bytes: float, kv_bytes: float, active_params: float, batch: int,
                  bandwidth_bps: float, flops: float) -> float:
    """Roofline time of one decode step over `batch` sequences whose caches hold `kv_bytes` together."""
    return max((weight_bytes + kv_bytes) / bandwidth_bps, 2 * active_params * batch / flops)


def expected_step_s(bound_s: float, layers: int, eff: Efficiency) -> float:
    """What a decode step takes in practice: the bound at `eff.decode`, plus fixed overheads."""
    return bound_s / eff.decode + eff.step_overhead_s + layers * eff.layer_overhead_s


def prefill_s(*, active_params: float, prompt_tokens: int, flops: float, weight_bytes: float,
              bandwidth_bps: float) -> float:
    """Roofline time to first token: 2·P·prompt / F, and at least one read of the weights."""
    return max(2 * active_params * prompt_tokens / flops, weight_bytes / bandwidth_bps)


def requests_per_s(*, prefill_s: float, step_s: float, batch: int, output_tokens: int) -> float:
    """Requests one replica completes per second: each costs its prefill (run alone, compute-bound)
    and `output_tokens` decode steps shared with `batch - 1` others."""
    return 1.0 / (prefill_s + output_tokens * step_s / batch)


def replicas_needed(peak_qps: float, per_replica_rps: float) -> int:
    return max(1, math.ceil(peak_qps / per_replica_rps - 1e-9))


def concurrency(qps: float, e2e_s: float) -> float:
    """Little's law: requests in flight = arrival rate × time each stays."""
    return qps * e2e_s


def monthly_cost(replicas: int, devices_per_replica: int, price_per_device_hour: float) -> float:
    return replicas * devices_per_replica * price_per_device_hour * HOURS_PER_MONTH


def training_flops(params: float, tokens: float, lora: bool = False) -> float:
    per = LORA_FLOPS_PER_PARAM_TOKEN if lora else TRAIN_FLOPS_PER_PARAM_TOKEN
    return per * params * tokens


def training_seconds(params: float, tokens: float, flops: float, mfu: float, lora: bool = False, *,
                     layers: int = 0, layer_overhead_s: float = 0.0) -> float:
    """6·N·tokens (4·N with LoRA) ÷ effective FLOP/s, plus a fixed time per token per layer."""
    return training_flops(params, tokens, lora) / (flops * mfu) + tokens * layers * layer_overhead_s
