"""The prefill of one long prompt in the lmstack engine's step, with prompt chunks' attention on the
blocked kernel (on AMX tiles where the CPU has them, and then its AVX-512 BF16 form too) and on the
row kernel, interleaved in one process. A measurement, not a test.

    flock /tmp/lmstack-bench.lock .venv/bin/python benchmarks/serve/long_prompt.py --tokens 512 2048 --repeats 5

llama-125m in bf16 (random weights), one slot, the prompt in the engine's chunks of 256 tokens
(`DecoderStep`, as the engine runs a step with one prompt chunk and no decode rows): the time of the
whole prefill (what the request's time to first token adds up to, before HTTP) and the part of it
spent in attention, medians over the repeats.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from lmstack.models.build import build_model
from lmstack.serve.engine import decoder_step
from lmstack.serve.engine import prompt_attention as pa
from lmstack.serve.engine.decoder_step import DecoderStep
from lmstack.serve.engine.kv_cache import KVCache, PromptSegment, StepLayout

CHUNK = 256


def prefill(step: DecoderStep, kv: KVCache, tokens: torch.Tensor) -> float:
    """Seconds for the whole prompt, chunk by chunk."""
    start_all = time.perf_counter()
    for start in range(0, len(tokens), CHUNK):
        n = min(CHUNK, len(tokens) - start)
        layout = StepLayout.build([0] * n, list(range(start, start + n)), 0, [PromptSegment(0, n, 0, start)])
        step(tokens[start:start + n], layout.positions, layout, torch.tensor([n - 1]), kv)
    return time.perf_counter() - start_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[512, 2048])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = build_model("llama-125m", vocab_size=32000, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = model.to(torch.bfloat16).eval()
    step = DecoderStep.build(model, step_rows=CHUNK)
    kv = KVCache(model.config, num_slots=1, max_context=max(args.tokens), dtype=torch.bfloat16)
    if not pa.available(kv.keys[0]):
        raise SystemExit("no blocked prompt attention here (it needs AVX-512 BF16 and lmstack's kernels)")
    spent = [0.0]
    attend = decoder_step.attend

    def timed_attend(*a, **k):
        begin = time.perf_counter()
        out = attend(*a, **k)
        spent[0] += time.perf_counter() - begin
        return out

    decoder_step.attend = timed_attend
    available, amx_available = pa.available, pa.amx_available
    # each path: (blocked kernel at all, its AMX form) — the AVX-512 BF16 form is measured too where AMX runs
    paths = {"blocked": (available, amx_available)}
    if amx_available():
        paths["blocked (AVX-512 BF16)"] = (available, lambda: False)
    paths["row kernel"] = (lambda _keys: False, amx_available)
    print(f"torch threads {args.threads}, {args.repeats} interleaved repeats, medians; chunks of {CHUNK} tokens")
    with torch.inference_mode():
        for length in args.tokens:
            tokens = torch.randint(3, 32000, (length,), generator=torch.Generator().manual_seed(length))
            totals = {name: [] for name in paths}
            attention = {name: [] for name in paths}
            for pa.available, pa.amx_available in paths.values():  # warm-up
                prefill(step, kv, tokens)
            for _ in range(args.repeats):
                for name, (pa.available, pa.amx_available) in paths.items():
                    spent[0] = 0.0
                    totals[name].append(prefill(step, kv, tokens))
                    attention[name].append(spent[0])
            pa.available, pa.amx_available = available, amx_available
            row = {name: (statistics.median(totals[name]) * 1e3, statistics.median(attention[name]) * 1e3)
                   for name in paths}
            print(f"{length}-token prompt: " + "; ".join(
                f"{name} prefill {total:.0f} ms, attention {att:.0f} ms ({att / total:.0%})"
                for name, (total, att) in row.items())
                + f"; prefill {row['row kernel'][0] / row['blocked'][0]:.2f}x faster blocked")


if __name__ == "__main__":
    main()
