"""lmstack's CPU kernels against the torch code they replace, interleaved in one process. A measurement, not a test.

    flock /tmp/lmstack-bench.lock .venv/bin/python benchmarks/serve/kernels_ab.py --repeats 60

Two comparisons on the llama-125m preset in bf16 (random weights), each alternating A and B call by
call so that a noisy machine slows both alike, reporting medians:

1. decode attention alone, one layer: 16 rows × 4 KV heads × 3 query heads per KV head, head size
   64, at 192 and 600 cached positions — the kernel (`decode_attention`) against torch's SDPA over
   the same slot cache with the same per-row mask (what `kv_cache.attend` runs without the kernel);
2. a whole decode step (`DecoderStep`) of 1 and 16 rows at ~160 positions: with the kernels, with
   the fused pointwise kernels off (torch's RMSNorm, SiLU·up and rotary ops), and with no kernels at
   all (SDPA attention too).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from lmstack.models.build import build_model
from lmstack.serve.engine import decode_attention as da
from lmstack.serve.engine import native
from lmstack.serve.engine.decoder_step import DecoderStep
from lmstack.serve.engine.kv_cache import KVCache, StepLayout


def interleaved(variants: dict[str, Callable[[], object]], repeats: int, calls: int = 1) -> dict[str, float]:
    """Median ms per call of each variant, alternating them `repeats` times after a warm-up."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():
        for _ in range(3):
            fn()
    for _ in range(repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            times[name].append((time.perf_counter() - start) / calls * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def attention_rows(repeats: int) -> None:
    rows, kv_heads, group, dim, context = 16, 4, 3, 64, 1024
    keys = torch.randn(rows, kv_heads, context, dim, dtype=torch.bfloat16)
    values = torch.randn(rows, kv_heads, context, dim, dtype=torch.bfloat16)
    for length in (192, 600):
        positions = torch.arange(length - rows, length)  # rows at different lengths, as in a running batch
        q = torch.randn(rows, kv_heads, group, dim, dtype=torch.bfloat16)
        mask = (torch.arange(length)[None, :] <= positions[:, None])[:, None, None, :]
        lengths, starts = positions + 1, torch.zeros(rows, dtype=torch.int64)
        ms = interleaved({
            "kernel": lambda: da.decode_attention(q, keys, values, lengths, starts, 0.125),
            "sdpa": lambda: F.scaled_dot_product_attention(q, keys[:, :, :length], values[:, :, :length],
                                                           attn_mask=mask, scale=0.125),
        }, repeats, calls=20)
        print(f"decode attention, 16 rows, {length} positions: kernel {ms['kernel'] * 1e3:.0f} µs, "
              f"SDPA {ms['sdpa'] * 1e3:.0f} µs ({ms['sdpa'] / ms['kernel']:.2f}x)")


def step_rows(repeats: int) -> None:
    model = build_model("llama-125m", vocab_size=32000, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = model.to(torch.bfloat16).eval()
    step = DecoderStep.build(model)
    kv = KVCache(model.config, num_slots=16, max_context=512, dtype=torch.bfloat16)
    kv.keys.normal_()
    kv.values.normal_()
    for rows in (1, 16):
        layout = StepLayout.build(list(range(rows)), [160 + i for i in range(rows)], rows, [])
        tokens, keep = torch.randint(3, 32000, (rows,)), torch.arange(rows)

        def run(fused: bool, attention_kernel: bool) -> Callable[[], object]:
            def call():
                step.fused = fused
                da.available = (lambda keys: native.usable(keys)) if attention_kernel else (lambda keys: False)
                return step(tokens, layout.positions, layout, keep, kv)
            return call

        with torch.inference_mode():
            ms = interleaved({"all kernels": run(True, True), "no pointwise kernels": run(False, True),
                              "no kernels": run(False, False)}, repeats)
        base = ms["no kernels"]
        print(f"decode step, {rows} row(s): " + ", ".join(f"{k} {v:.2f} ms ({v / base:.2f}x)" for k, v in ms.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if native.library() is None:
        raise SystemExit("lmstack's kernels are not built here (or LMSTACK_KERNELS=0); run `make install`")
    print(f"torch threads {args.threads}, {args.repeats} interleaved repeats, medians")
    attention_rows(args.repeats)
    step_rows(args.repeats)


if __name__ == "__main__":
    main()
