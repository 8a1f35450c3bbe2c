"""Where a wave of requests spends its time inside the lmstack engine: forwards by kind, hand-off, gaps.

    flock /tmp/lmstack-bench.lock .venv/bin/python benchmarks/serve/engine_steps.py --repeats 3
    flock /tmp/lmstack-bench.lock .venv/bin/python benchmarks/serve/engine_steps.py --waves 4

engine_speed.py's load (llama-125m in bf16, random weights, 128-token prompts, 64 output tokens,
greedy, ignore_eos), in-process, no HTTP: 16 concurrent requests, then one. With `--waves N` each of
the 16 slots sends N requests one after another, the closed loop of `side_by_side.py`'s load
(`--prompts-per-slot N`), so later requests arrive while others decode. To compare engine settings
such as `--prefill-chunk`, run them as separate servers (`side_by_side.py --lmstack-variant`): engines
built side by side in one process each pack their own weights and time their own linear plans, and
their decode-only steps' medians differed by 13–28% within one run (prefill chunks of 256, 64 and
32), and over HTTP the order of 256 and 64 came out reversed. Each engine forward and
each token hand-off (`_emit`: sampling and delivery to the event loop) is timed. Printed per run:
tokens/s, the rows and total time of the forwards that hold a prompt chunk, the decode-only
forwards' median and total, the median hand-off, and the time between one forward's end and the
next one's start. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import torch
from engine_speed import OUTPUT_TOKENS, PROMPT_TOKENS, VOCAB, engine_generate

from lmstack.models.build import build_model
from lmstack.serve.engine.base import GenerationRequest, SamplingParams
from lmstack.serve.engine.lmstack_engine import LmstackEngine


Log = list[tuple[str, int, float, float]]


def instrument(engine: LmstackEngine, log: Log) -> None:
    """Record (kind, rows, start, end) for every forward (kind "p" when it holds a prompt chunk, else
    "f") and hand-off ("e") of `engine`."""
    forward, emit = engine._forward, engine._emit

    def timed_forward(tokens, positions, layout, keep):
        start = time.perf_counter()
        out = forward(tokens, positions, layout, keep)
        log.append(("p" if layout.segments else "f", len(tokens), start, time.perf_counter()))
        return out

    def timed_emit(seqs, logits):
        start = time.perf_counter()
        emit(seqs, logits)
        log.append(("e", len(seqs), start, time.perf_counter()))

    engine._forward, engine._emit = timed_forward, timed_emit


def closed_loop(engine: LmstackEngine, prompts: torch.Tensor, waves: int) -> float:
    """Output tokens/s of 16 slots that each send `waves` of `prompts`' rows one after another."""
    params = SamplingParams(max_tokens=OUTPUT_TOKENS, temperature=0.0, ignore_eos=True)

    async def slot(s: int) -> int:
        tokens = 0
        for k in range(waves):
            row = prompts[(s * waves + k) % prompts.shape[0]].tolist()
            request = GenerationRequest(f"s{s}-{k}-{time.monotonic_ns()}", row, params)
            tokens += len([event async for event in engine.generate(request)])
        return tokens

    async def run() -> float:
        await engine.start()
        start = time.perf_counter()
        tokens = sum(await asyncio.gather(*(slot(s) for s in range(16))))
        return tokens / (time.perf_counter() - start)

    return asyncio.run(run())


def report(label: str, rate: float, log: Log) -> None:
    forwards = [r for r in log if r[0] in "pf"]
    prefill = [r for r in forwards if r[0] == "p"]
    decode = [r[3] - r[2] for r in forwards if r[0] == "f"]
    gaps = [b[2] - a[3] for a, b in zip(forwards, forwards[1:])]
    emits = [r[3] - r[2] for r in log if r[0] == "e"]
    rows = sorted({r[1] for r in prefill})
    shown = rows if len(rows) <= 8 else f"{len(rows)} sizes, {rows[0]}–{rows[-1]}"
    print(f"{label}: {rate:6.1f} tok/s; prefill {len(prefill)} forwards "
          f"(rows {shown}) {sum(r[3] - r[2] for r in prefill) * 1e3:.0f} ms; "
          f"decode {len(decode)} forwards, median {statistics.median(decode) * 1e3:.2f} ms, "
          f"total {sum(decode) * 1e3:.0f} ms; hand-off median {statistics.median(emits) * 1e3:.2f} ms; "
          f"between forwards median {statistics.median(gaps) * 1e3:.2f} ms, total {sum(gaps) * 1e3:.0f} ms",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prefill-chunk", type=int, default=256, help="the engine's prefill_chunk_tokens")
    parser.add_argument("--waves", type=int, default=1, help="requests each of the 16 slots sends in turn")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = build_model("llama-125m", vocab_size=VOCAB, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = model.to(torch.bfloat16).eval()
    engine = LmstackEngine(model, model_name="llama-125m", max_batch_size=16, max_context=512,
                           prefill_chunk_tokens=args.prefill_chunk)
    log: Log = []
    instrument(engine, log)
    prompts = torch.randint(3, VOCAB, (16 * args.waves, PROMPT_TOKENS), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        engine_generate(engine, prompts[:16])  # warm-up
        for _ in range(args.repeats):
            log.clear()
            report(f"16 slots × {args.waves} request(s)", closed_loop(engine, prompts, args.waves), log)
        for _ in range(args.repeats):
            log.clear()
            report(" 1 request", engine_generate(engine, prompts[:1]), log)
    asyncio.run(engine.shutdown(drain_timeout_s=0))


if __name__ == "__main__":
    main()
