"""Decode speed of the lmstack engine vs HF `generate`, next to this machine's roofline. A measurement, not a test.

    .venv/bin/python benchmarks/serve/engine_speed.py            # ~3 min on 2 cores
    .venv/bin/python benchmarks/serve/engine_speed.py --dtype float32 --repeats 1 --threads 1

A Llama-shaped ~125M-parameter model (preset llama-125m, random weights), 128-token prompts,
64 output tokens each, greedy, ignore_eos. Four ways to make them, median of `--repeats` runs:

- HF generate, one prompt;           - lmstack engine, one request;
- HF generate, static batch of 16;   - lmstack engine, 16 concurrent requests.

tokens/s = output tokens ÷ wall time including prefill (what a client sees). The roofline uses
BW and F measured in the same run (`lmstack.hardware.measure`): a decode step over B sequences
takes ≥ max((W + Σ KV(L)) / BW, 2·P·B / F), W = weight bytes, KV at the mean context length.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import torch

from lmstack.hardware.device import resolve_threads
from lmstack.hardware.measure import measure
from lmstack.models.build import build_model
from lmstack.serve.engine.base import GenerationRequest, SamplingParams
from lmstack.serve.engine.lmstack_engine import LmstackEngine

VOCAB = 32000
PROMPT_TOKENS, OUTPUT_TOKENS, CONCURRENCY = 128, 64, 16


def hf_generate(model, prompts: torch.Tensor) -> float:
    start = time.perf_counter()
    model.generate(prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=OUTPUT_TOKENS,
                   min_new_tokens=OUTPUT_TOKENS, do_sample=False, pad_token_id=0)
    return prompts.shape[0] * OUTPUT_TOKENS / (time.perf_counter() - start)


def engine_generate(engine: LmstackEngine, prompts: torch.Tensor) -> float:
    params = SamplingParams(max_tokens=OUTPUT_TOKENS, temperature=0.0, ignore_eos=True)

    async def one(i: int) -> int:
        request = GenerationRequest(f"r{i}-{time.monotonic_ns()}", prompts[i].tolist(), params)
        return len([event async for event in engine.generate(request)])

    async def main() -> float:
        await engine.start()
        start = time.perf_counter()
        tokens = sum(await asyncio.gather(*(one(i) for i in range(prompts.shape[0]))))
        return tokens / (time.perf_counter() - start)

    return asyncio.run(main())


def median_rate(fn, repeats: int) -> float:
    fn()  # warm-up: first calls pay for oneDNN kernel selection and allocations
    return statistics.median(fn() for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", default="auto", help="torch threads ('auto' = physical cores); "
                        "on a machine shared with other jobs, fewer threads than cores avoid waiting on preempted ones")
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    hw = measure(budget_s=3.0, threads=args.threads)
    threads = resolve_threads(args.threads)
    model = build_model("llama-125m", vocab_size=VOCAB, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = model.to(dtype).eval()
    cfg = model.config
    params = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(p.nbytes for p in model.parameters())
    kv_bytes_per_token = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * cfg.head_dim * dtype.itemsize
    mean_context = PROMPT_TOKENS + OUTPUT_TOKENS / 2
    bf16 = dtype == torch.bfloat16
    bw = (hw.gemv_bandwidth_gbs_bf16 if bf16 else hw.gemv_bandwidth_gbs_fp32) * 1e9
    flops = (hw.matmul_gflops_bf16 if bf16 else hw.matmul_gflops_fp32) * 1e9

    def roofline(batch: int) -> float:
        step_s = max((weight_bytes + batch * kv_bytes_per_token * mean_context) / bw, 2 * params * batch / flops)
        return batch / step_s

    prompts = torch.randint(3, VOCAB, (CONCURRENCY, PROMPT_TOKENS), generator=torch.Generator().manual_seed(0))
    # One engine for every run: its KV cache is allocated once, as in a server.
    engine = LmstackEngine(model, model_name="llama-125m", max_batch_size=CONCURRENCY, max_context=512)
    with torch.inference_mode():
        rows = [
            ("HF generate, single", 1, median_rate(lambda: hf_generate(model, prompts[:1]), args.repeats)),
            ("HF generate, static batch 16", 16, median_rate(lambda: hf_generate(model, prompts), args.repeats)),
            ("lmstack engine, single", 1, median_rate(lambda: engine_generate(engine, prompts[:1]), args.repeats)),
            ("lmstack engine, 16 concurrent", 16,
             median_rate(lambda: engine_generate(engine, prompts), args.repeats)),
        ]
    asyncio.run(engine.shutdown(drain_timeout_s=0))
    print(f"llama-125m: {params / 1e6:.0f}M params, {weight_bytes / 1e9:.2f} GB in {args.dtype}; "
          f"{PROMPT_TOKENS}-token prompts, {OUTPUT_TOKENS} output tokens, greedy, ignore_eos; "
          f"median of {args.repeats}; torch threads {threads}")
    print(f"hardware (same run): read {hw.read_bandwidth_gbs:.1f} GB/s, GEMV {bw / 1e9:.1f} GB/s, "
          f"GEMM {flops / 1e9:.0f} GFLOP/s ({args.dtype})")
    print(f"{'':32} {'tok/s':>8} {'roofline':>9} {'achieved':>9}")
    for name, batch, rate in rows:
        print(f"{name:32} {rate:8.1f} {roofline(batch):9.0f} {rate / roofline(batch):8.0%}")


if __name__ == "__main__":
    main()
