"""How close `lmstack plan`'s speed estimates come to lmstack's measured speeds. A measurement, not a test.

    flock /tmp/lmstack-bench.lock .venv/bin/python benchmarks/plan/speed.py --threads 1   # ~8 min
    .venv/bin/python benchmarks/plan/speed.py --presets llama-5m --repeats 1         # a quick look

For each preset (random weights, the preset's vocabulary), in one run:

- measure BW and F with `lmstack.hardware.measure` (bf16 GEMV bandwidth, bf16 matmul FLOP/s);
- decode: predict single-stream tokens/s for a 16-token prompt and 64 greedy output tokens with
  the planner's formulas (prefill, then 63 decode steps at the CPU efficiency constants), then
  time `lmstack.generate`'s path (HF generate, bf16 weights, ignore_eos);
- TTFT: predict max(2·P·256 / (F × prefill efficiency), W / BW) and time generate with one new token;
- training: predict tokens/s as 1 ÷ (6N ÷ (F × MFU) + layers × overhead per token), then run the pretrain recipe
  (`lmstack.train.pretrain`: HF Trainer, fp32 weights with bf16 autocast, AdamW) for `--steps` steps
  on packed random tokens and read its tokens_per_s.

Each measured figure is the median of `--repeats` runs; the ratio is measured ÷ predicted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from lmstack.hardware.device import resolve_threads
from lmstack.hardware.measure import measure
from lmstack.models.build import build_model
from lmstack.models.presets import get_preset
from lmstack.models.tokenizer import train_tokenizer
from lmstack.plan import estimate as est
from lmstack.plan.candidates import preset_shapes
from lmstack.plan.hardware import measured_device
from lmstack.train.config import TrainSection
from lmstack.train.pretrain import pretrain

PROMPT_TOKENS, OUTPUT_TOKENS = 16, 64
TTFT_PROMPT_TOKENS = 256  # long enough that prefill is compute-bound
SEQ_LEN, BATCH = 256, 4


def predict_decode_tok_s(shape, bw_bps: float, flops: float, eff: est.Efficiency) -> float:
    weights = est.weight_bytes(shape.params)
    kv_token = est.kv_bytes_per_token(shape.layers, shape.kv_heads, shape.head_dim)
    ttft = est.prefill_s(active_params=shape.params, prompt_tokens=PROMPT_TOKENS, flops=flops * eff.prefill,
                         weight_bytes=weights, bandwidth_bps=bw_bps * eff.decode)
    bound = est.decode_step_s(weight_bytes=weights, kv_bytes=kv_token * (PROMPT_TOKENS + OUTPUT_TOKENS / 2),
                              active_params=shape.params, batch=1, bandwidth_bps=bw_bps, flops=flops)
    step = est.expected_step_s(bound, shape.layers, eff)
    return OUTPUT_TOKENS / (ttft + (OUTPUT_TOKENS - 1) * step)


def predict_ttft_s(shape, bw_bps: float, flops: float, eff: est.Efficiency) -> float:
    return est.prefill_s(active_params=shape.params, prompt_tokens=TTFT_PROMPT_TOKENS, flops=flops * eff.prefill,
                         weight_bytes=est.weight_bytes(shape.params), bandwidth_bps=bw_bps * eff.decode)


def measure_ttft_s(model, repeats: int) -> float:
    """Seconds to the first token of a TTFT_PROMPT_TOKENS prompt: generate with max_new_tokens=1."""
    prompt = torch.randint(3, 1000, (1, TTFT_PROMPT_TOKENS), generator=torch.Generator().manual_seed(1))

    def once() -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=1, do_sample=False,
                           pad_token_id=1)
        return time.perf_counter() - start

    once()
    return statistics.median(once() for _ in range(repeats))


def measure_decode_tok_s(model, repeats: int) -> float:
    prompt = torch.randint(3, 1000, (1, PROMPT_TOKENS), generator=torch.Generator().manual_seed(0))

    def once() -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=OUTPUT_TOKENS,
                           min_new_tokens=OUTPUT_TOKENS, do_sample=False, pad_token_id=1)
        return OUTPUT_TOKENS / (time.perf_counter() - start)

    once()  # warm-up: oneDNN kernel selection and allocations
    return statistics.median(once() for _ in range(repeats))


def measure_train_tok_s(name: str, vocab: int, tokenizer, steps: int, repeats: int, work: Path) -> float:
    rows = torch.randint(3, 1000, (steps * BATCH + 8, SEQ_LEN), generator=torch.Generator().manual_seed(0))
    rates = []
    for i in range(repeats):
        model = build_model(name, vocab_size=vocab, pad_token_id=1, bos_token_id=0, eos_token_id=0)
        cfg = TrainSection(max_steps=steps, batch_size=BATCH, log_every=steps, eval_every=10 * steps,
                           save_every=10 * steps, validation_share=0.0)
        metrics = pretrain(model, tokenizer, rows, work / f"{name}-{i}", cfg, seed=0, device=torch.device("cpu"),
                           bf16=True, resume=False)
        rates.append(metrics["tokens_per_s"])
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["llama-20m", "llama-125m"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8, help="training steps per run (batch 4 × 256 tokens)")
    parser.add_argument("--threads", default="auto",
                        help="torch threads ('auto' = physical cores); on a machine shared with other jobs use 1: "
                             "threads waiting on a preempted sibling slow every op down many times over")
    args = parser.parse_args()
    threads = resolve_threads(args.threads)
    hw = measure(budget_s=3.0, threads=args.threads)
    device = measured_device(hw, memory_gb=1.0)
    bw_bps, flops = device.bandwidth_gbs * 1e9, device.flops
    eff = est.CPU_EFFICIENCY
    shapes = {s.name: s for s in preset_shapes()}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tokenizer = train_tokenizer(iter([f"row {i} of the benchmark" for i in range(200)]), vocab_size=300,
                                    out_dir=work / "tokenizer")
        rows = []
        for name in args.presets:
            shape, vocab = shapes[name], get_preset(name).vocab_size
            model = build_model(name, vocab_size=vocab, pad_token_id=1, bos_token_id=0, eos_token_id=0)
            model = model.to(torch.bfloat16).eval()
            decode = measure_decode_tok_s(model, args.repeats)
            ttft = measure_ttft_s(model, args.repeats)
            del model
            train = measure_train_tok_s(name, vocab, tokenizer, args.steps, args.repeats, work)
            rows.append((name, shape.params, predict_decode_tok_s(shape, bw_bps, flops, eff), decode,
                         predict_ttft_s(shape, bw_bps, flops, eff) * 1e3, ttft * 1e3,
                         1 / est.training_seconds(shape.params, 1, flops, eff.train_mfu, layers=shape.layers,
                                                  layer_overhead_s=eff.train_layer_overhead_s), train))
    print(f"torch threads {threads}; measured in this run: GEMV bf16 {hw.gemv_bandwidth_gbs_bf16} GB/s, "
          f"GEMM bf16 {hw.matmul_gflops_bf16} GFLOP/s (fp32 GEMV {hw.gemv_bandwidth_gbs_fp32:.1f}, "
          f"GEMM {hw.matmul_gflops_fp32:.0f}); read {hw.read_bandwidth_gbs:.1f} GB/s")
    print(f"efficiency constants: {eff.to_dict()}; median of {args.repeats}")
    print(f"| preset | params | decode tok/s predicted | measured | ratio | TTFT ms ({TTFT_PROMPT_TOKENS} tokens) "
          "predicted | measured | ratio | train tok/s predicted | measured | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, params, dp, dm, fp, fm, tp, tm in rows:
        print(f"| {name} | {params / 1e6:.1f}M | {dp:.1f} | {dm:.1f} | {dm / dp:.2f} | {fp:.1f} | {fm:.1f} | "
              f"{fm / fp:.2f} | {tp:.0f} | {tm:.0f} | {tm / tp:.2f} |")


if __name__ == "__main__":
    main()
