"""lmstack's CPU kernels against the torch code they replace, interleaved in one process. A measurement, not a test.

    flock /tmp/lmstack-bench.lock .venv/bin/python benchmarks/serve/kernels_ab.py --repeats 60

Two comparisons on the llama-125m preset in bf16 (random weights), each alternating A and B call by
call so that a noisy machine slows both alike, reporting medians:

1. decode attention alone, one layer: 16 rows × 4 KV heads × 3 query heads per KV head, head size
   64, at 192 and 600 cached positions — the kernel (`decode_attention`) against its plain loop form
   (`decode_attention_loop`) and torch's SDPA over the same slot cache with the same per-row mask
   (what `kv_cache.attend` runs without the kernel); with K/V in cache (20 calls in a row) and from
   DRAM (256 MB read between calls, as the linear layers' weights pass between a step's layers);
2. the model's linear layers (12 × q/k/v, o, gate/up, down, and the LM head: 256 MB of bf16
   weights, more than any cache) at 1, 4, 16, 32, 64 and 256 rows: lmstack's packed kernel (`linear`; on AMX
   tiles where the CPU has them, and then its AVX-512 BF16 form too) against oneDNN's packed
   product (`_linear_pointwise`) and plain `F.linear`, with the bandwidth and FLOP/s each reaches;
3. a 256-token prompt chunk's attention at positions 0, 768 and 1,792: the blocked kernel
   (`prompt_attention`; on AMX tiles where the CPU has them, and then its AVX-512 BF16 form too)
   against the row kernel (`decode_attention`, one task per row and head);
4. a whole decode step (`DecoderStep`) of 1, 4 and 16 rows at ~160 positions: with the kernels and
   the linear products the engine picks at start (`LinearPlan`, printed), with lmstack's linear
   kernel at every row count (every layer in one C call, `native_layers`; the same kernels called
   layer by layer from Python; and that with decode attention's loop form), with oneDNN's linears at
   every row count, with the fused pointwise
   kernels off too (torch's RMSNorm, SiLU·up and rotary ops), and with no kernels at all (SDPA
   attention too).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from unittest.mock import patch

import torch
import torch.nn.functional as F

from lmstack.models.build import build_model
from lmstack.serve.engine import decode_attention as da
from lmstack.serve.engine import native
from lmstack.serve.engine import prompt_attention as pa
from lmstack.serve.engine.decoder_step import DecoderStep
from lmstack.serve.engine.kv_cache import KVCache, StepLayout
from lmstack.serve.engine.linear import PackedLinear, available


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


def from_dram(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median ms of one call of each variant after 256 MB were read (the caches hold other data), alternating."""
    flush = torch.zeros(64 << 20, dtype=torch.float32)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            flush.sum()  # reads, as the weights stream through between two layers
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def attention_rows(repeats: int) -> None:
    rows, kv_heads, group, dim, context = 16, 4, 3, 64, 1024
    loop_form = native.kernel("decode_attention_loop", torch.bfloat16)
    keys = torch.randn(rows, kv_heads, context, dim, dtype=torch.bfloat16)
    values = torch.randn(rows, kv_heads, context, dim, dtype=torch.bfloat16)
    for length in (192, 600):
        positions = torch.arange(length - rows, length)  # rows at different lengths, as in a running batch
        q = torch.randn(rows, kv_heads, group, dim, dtype=torch.bfloat16)
        mask = (torch.arange(length)[None, :] <= positions[:, None])[:, None, None, :]
        lengths, starts = positions + 1, torch.zeros(rows, dtype=torch.int64)
        out = torch.empty_like(q)
        variants = {
            "kernel": lambda: da.decode_attention(q, keys, values, lengths, starts, 0.125),
            "loop": lambda: loop_form(q.data_ptr(), keys.data_ptr(), values.data_ptr(), None, lengths.data_ptr(),
                                      starts.data_ptr(), out.data_ptr(), rows, keys.shape[0], kv_heads, group, dim,
                                      context, 0.125, torch.get_num_threads()),
            "sdpa": lambda: F.scaled_dot_product_attention(q, keys[:, :, :length], values[:, :, :length],
                                                           attn_mask=mask, scale=0.125),
        }
        for where, ms in (("in cache", interleaved(variants, repeats, calls=20)),
                          ("from DRAM", from_dram(variants, repeats))):
            print(f"decode attention, 16 rows, {length} positions, K/V {where}: kernel {ms['kernel'] * 1e3:.0f} µs, "
                  f"loop form {ms['loop'] * 1e3:.0f} µs ({ms['loop'] / ms['kernel']:.2f}x), "
                  f"SDPA {ms['sdpa'] * 1e3:.0f} µs ({ms['sdpa'] / ms['kernel']:.2f}x)")


def linear_rows(repeats: int) -> None:
    model = build_model("llama-125m", vocab_size=32000, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = model.to(torch.bfloat16).eval()
    linears = [m for layer in model.model.layers for m in (
        [layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj], [layer.self_attn.o_proj],
        [layer.mlp.gate_proj, layer.mlp.up_proj], [layer.mlp.down_proj])] + [[model.lm_head]]
    weights = [torch.cat([m.weight for m in group]) for group in linears]
    kernel = [PackedLinear.build(group) for group in linears]  # on AMX tiles where the CPU has them
    dot = [PackedLinear(p.packed, p.bias, p.in_features, p.out_features, amx=False) for p in kernel]
    amx = any(p.amx for p in kernel)
    onednn = [torch.ops.mkldnn._reorder_linear_weight(w, 1) for w in weights]
    weight_bytes = sum(w.numel() * 2 for w in weights)
    for rows in (1, 4, 16, 32, 64, 256):  # 32 and 64: a decode step with a few prompt tokens
        xs = {k: torch.randn(rows, k, dtype=torch.bfloat16) for k in {w.shape[1] for w in weights}}
        with torch.inference_mode():
            variants = {"kernel": lambda: [p(xs[p.in_features]) for p in kernel]}
            if amx:  # the AVX-512 BF16 kernel beside the AMX one
                variants["kernel (AVX-512 BF16)"] = lambda: [p(xs[p.in_features]) for p in dot]
            ms = interleaved(variants | {
                "oneDNN": lambda: [torch.ops.mkldnn._linear_pointwise(xs[w.shape[1]], p, None, "none", [], "")
                                   for w, p in zip(weights, onednn)],
                "F.linear": lambda: [F.linear(xs[w.shape[1]], w) for w in weights],
            }, max(3, repeats // (1 if rows < 256 else 10)))
        print(f"linear layers, {rows} row(s), {weight_bytes / 1e6:.0f} MB{', kernel on AMX' if amx else ''}: " + ", ".join(
            f"{k} {v:.2f} ms ({weight_bytes / v / 1e6:.1f} GB/s, {rows * weight_bytes / v / 1e6:.0f} GFLOP/s)"
            for k, v in ms.items()) + f"; oneDNN/kernel {ms['oneDNN'] / ms['kernel']:.2f}x")


def step_rows(repeats: int) -> None:
    model = build_model("llama-125m", vocab_size=32000, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = model.to(torch.bfloat16).eval()
    step = DecoderStep.build(model)  # the linear products as measured at start (LinearPlan)
    print(step.linear_plan.describe())
    with patch.dict(os.environ, {"LMSTACK_LINEAR": "kernel"}):
        kernel_step = DecoderStep.build(model)  # lmstack's linear kernel at every row count
    with patch.dict(os.environ, {"LMSTACK_LINEAR": "onednn"}):
        onednn_step = DecoderStep.build(model)  # oneDNN's packed linears at every row count
    natives = {id(s): s.native for s in (step, kernel_step, onednn_step)}  # the layers in one C call, or None
    kernel = native.kernel

    def loop_attention(name: str, dtype: torch.dtype):  # decode attention's loop form (the Python loop only)
        return kernel("decode_attention_loop" if (name, dtype) == ("decode_attention", torch.bfloat16) else name, dtype)

    kv = KVCache(model.config, num_slots=16, max_context=512, dtype=torch.bfloat16)
    kv.keys.normal_()
    kv.values.normal_()
    for rows in (1, 4, 16):
        layout = StepLayout.build(list(range(rows)), [160 + i for i in range(rows)], rows, [])
        tokens, keep = torch.randint(3, 32000, (rows,)), torch.arange(rows)

        def run(which: DecoderStep, fused: bool, attention_kernel: bool, one_call: bool = True,
                attention_loop: bool = False) -> Callable[[], object]:
            def call():
                which.fused = fused
                which.native = natives[id(which)] if one_call else None
                native.kernel = loop_attention if attention_loop else kernel
                da.available = (lambda keys: native.usable(keys)) if attention_kernel else (lambda keys: False)
                return which(tokens, layout.positions, layout, keep, kv)
            return call

        with torch.inference_mode():
            ms = interleaved({"all kernels, planned linears": run(step, True, True),
                              "all kernels, lmstack linears": run(kernel_step, True, True),
                              "the same, layers called from Python": run(kernel_step, True, True, one_call=False),
                              "the same, attention's loop form": run(kernel_step, True, True, one_call=False,
                                                                     attention_loop=True),
                              "oneDNN linears": run(onednn_step, True, True),
                              "oneDNN, no pointwise kernels": run(onednn_step, False, True),
                              "no kernels": run(onednn_step, False, False)}, repeats)
        native.kernel = kernel
        base = ms["no kernels"]
        print(f"decode step, {rows} row(s): " + ", ".join(f"{k} {v:.2f} ms ({v / base:.2f}x)" for k, v in ms.items()))


def prompt_chunks(repeats: int) -> None:
    """A 256-token prompt chunk's attention, one layer (4 KV heads × 3 queries, heads of 64), at positions
    0, 768 and 1,792 of its slot: the blocked kernel (`prompt_attention`; on AMX tiles where the CPU has
    them, and then its AVX-512 BF16 form too) against the row kernel."""
    heads, group, dim, context, length = 4, 3, 64, 2048, 256
    g = torch.Generator().manual_seed(0)
    keys = torch.randn(1, heads, context, dim, generator=g).to(torch.bfloat16)
    values = torch.randn(1, heads, context, dim, generator=g).to(torch.bfloat16)
    q = torch.randn(length, heads, group, dim, generator=g).to(torch.bfloat16)
    slots = torch.zeros(length, dtype=torch.int64)
    for start in (0, 768, 1792):
        lengths = torch.arange(start + 1, start + length + 1)
        variants = {"blocked": lambda: pa.prompt_attention(q, keys, values, slot=0, start=start, window=None,
                                                           scale=0.125)}
        if pa.amx_available():
            variants["blocked (AVX-512 BF16)"] = lambda: pa.prompt_attention(q, keys, values, slot=0, start=start,
                                                                             window=None, scale=0.125, amx=False)
        variants["row kernel"] = lambda: da.decode_attention(q, keys, values, lengths, None, 0.125, slots)
        ms = interleaved(variants, repeats)
        flops = 4 * heads * group * dim * int(lengths.sum())
        amx = " on AMX" if pa.amx_available() else ""
        print(f"prompt attention, 256-token chunk at position {start}, blocked kernel{amx}: " + ", ".join(
            f"{name} {t:.2f} ms ({flops / t / 1e6:.0f} GFLOP/s; {t / ms['blocked']:.2f}x)" for name, t in ms.items()))


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
    if available():
        linear_rows(args.repeats)
    else:
        print("linear layers: this CPU has no AVX-512 BF16; lmstack's linear kernel is not used")
    if pa.available(torch.empty(1, 1, 1, 64, dtype=torch.bfloat16)):
        prompt_chunks(args.repeats)
    else:
        print("prompt attention: this CPU has no AVX-512 BF16; prompt chunks run on the row kernel")
    step_rows(args.repeats)


if __name__ == "__main__":
    main()
