"""Where a wave of requests spends its time inside the lmstack engine: forwards by kind, hand-off, gaps.

    flock /tmp/lmstack-bench.lock .venv/bin/python benchmarks/serve/engine_steps.py --repeats 3

engine_speed.py's load (llama-125m in bf16, random weights, 128-token prompts, 64 output tokens,
greedy, ignore_eos), in-process, no HTTP: 16 concurrent requests, then one. Each engine forward and
each token hand-off (`_emit`: sampling and delivery to the event loop) is timed; a forward with more
rows than requests holds a prefill chunk. Printed per run: tokens/s, the prefill chunks' rows and
total time, the decode forwards' median and total, the median hand-off, and the time between one
forward's end and the next one's start. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import torch
from engine_speed import PROMPT_TOKENS, VOCAB, engine_generate

from lmstack.models.build import build_model
from lmstack.serve.engine.lmstack_engine import LmstackEngine


def instrument(engine: LmstackEngine, log: list[tuple[str, int, float, float]]) -> None:
    """Record (kind, rows, start, end) for every forward ("f") and hand-off ("e") of `engine`."""
    forward, emit = engine._forward, engine._emit

    def timed_forward(tokens, positions, layout, keep):
        start = time.perf_counter()
        out = forward(tokens, positions, layout, keep)
        log.append(("f", len(tokens), start, time.perf_counter()))
        return out

    def timed_emit(seqs, logits):
        start = time.perf_counter()
        emit(seqs, logits)
        log.append(("e", len(seqs), start, time.perf_counter()))

    engine._forward, engine._emit = timed_forward, timed_emit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prefill-chunk", type=int, default=256, help="the engine's prefill_chunk_tokens")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = build_model("llama-125m", vocab_size=VOCAB, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = model.to(torch.bfloat16).eval()
    engine = LmstackEngine(model, model_name="llama-125m", max_batch_size=16, max_context=512,
                           prefill_chunk_tokens=args.prefill_chunk)
    log: list[tuple[str, int, float, float]] = []
    instrument(engine, log)
    prompts = torch.randint(3, VOCAB, (16, PROMPT_TOKENS), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        engine_generate(engine, prompts)  # warm-up
        for requests in [16] * args.repeats + [1] * args.repeats:
            log.clear()
            rate = engine_generate(engine, prompts[:requests])
            forwards = [r for r in log if r[0] == "f"]
            prefill = [r for r in forwards if r[1] > requests]
            decode = [r[3] - r[2] for r in forwards if r[1] <= requests]
            gaps = [b[2] - a[3] for a, b in zip(forwards, forwards[1:])]
            emits = [r[3] - r[2] for r in log if r[0] == "e"]
            print(f"{requests:2d} requests: {rate:6.1f} tok/s; prefill {len(prefill)} forwards "
                  f"(rows {[r[1] for r in prefill]}) {sum(r[3] - r[2] for r in prefill) * 1e3:.0f} ms; "
                  f"decode {len(decode)} forwards, median {statistics.median(decode) * 1e3:.2f} ms, "
                  f"total {sum(decode) * 1e3:.0f} ms; hand-off median {statistics.median(emits) * 1e3:.2f} ms; "
                  f"between forwards median {statistics.median(gaps) * 1e3:.2f} ms, total {sum(gaps) * 1e3:.0f} ms")
    asyncio.run(engine.shutdown(drain_timeout_s=0))


if __name__ == "__main__":
    main()
