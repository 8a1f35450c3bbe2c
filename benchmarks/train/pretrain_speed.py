"""Pretraining speed of lmstack's pretrain recipe vs a plain HF `Trainer`: tokens/s, MFU, peak memory.

    flock /tmp/lmstack-bench.lock .venv/bin/python benchmarks/train/pretrain_speed.py        # ~15 min on 2 cores
    .venv/bin/python benchmarks/train/pretrain_speed.py --presets llama-1m --steps 4 --repeats 1   # a smoke run
    .venv/bin/python benchmarks/train/pretrain_speed.py --presets llama-125m --ways lmstack --profile 3

Both ways train the same preset model (random init, seed 0) on the same random token rows with
the same settings: sequence length, per-device batch, AdamW, warm-up + cosine, grad clipping,
logging every 10 steps, bf16 autocast where the CPU has native bf16, no evaluation and no
checkpoint inside the timed steps. The baseline is `Trainer` with `TrainingArguments` and a
list of {input_ids, labels} rows, what a user writes by hand; lmstack is
`lmstack.train.pretrain.pretrain`, what `lmstack train` runs, with its defaults (`lmstack`) and with
`train.compile: true` (`lmstack-compile`, torch.compile's inductor; its compilation falls in the
warm-up steps, reported apart).

Each (preset, way) run is its own child process, so peak memory is that run's alone: the RSS
high-water mark (`ru_maxrss`) of the child, model build and data included. Runs alternate the
order of the ways; each figure is the median over `--repeats`.

    tokens/s = tokens in the timed steps ÷ their wall time (the first `--warmup-steps` steps are not timed)
    FLOPs per token = 6·N + 12·L·H·T   (N parameters, the tied embedding counted once as the output
                                        projection; L layers, H hidden size, T sequence length: the
                                        attention scores and their weighted sum, forward and backward,
                                        as in PaLM, Chowdhery et al. 2022, appendix B)
    MFU = tokens/s × FLOPs per token ÷ F, F = bf16 (fp32 without bf16) matmul FLOP/s that
          `lmstack.hardware.measure` finds in the same run, with the same threads (the better of a
          measurement before and one after the training runs)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VOCAB = 32000


def flops_per_token(model, seq_len: int) -> float:
    text = model.config.get_text_config()
    n = sum(p.numel() for p in model.parameters())
    return 6 * n + 12 * text.num_hidden_layers * text.hidden_size * seq_len


def step_timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        """Wall-clock time at the end of every optimizer step."""

        def __init__(self):
            self.begin = 0.0
            self.ends: list[float] = []

        def on_train_begin(self, args, state, control, **kwargs):
            self.begin = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.ends.append(time.perf_counter())

    return StepTimer()


def child(args) -> dict:
    """One (preset, way) run in this process; its measurements."""
    import torch

    from lmstack.hardware.device import autocast_dtype, resolve_threads
    from lmstack.models.build import build_model
    from lmstack.models.tokenizer import train_tokenizer

    threads = resolve_threads(args.threads)
    cpu = torch.device("cpu")
    bf16 = args.bf16 and autocast_dtype(cpu, torch.float32) is not None
    work = Path(tempfile.mkdtemp(prefix=f"bench-{args.way}-", dir=args.work_dir))
    tokenizer = train_tokenizer(iter(["lmstack trains small language models on a laptop."] * 50), vocab_size=300,
                                out_dir=work / "tokenizer")
    model = build_model(args.preset, vocab_size=VOCAB, pad_token_id=tokenizer.pad_token_id,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                        max_position_embeddings=max(args.seq_len, 128), seed=0)
    steps = args.warmup_steps + args.steps
    rows = torch.randint(0, VOCAB, (steps * args.batch_size, args.seq_len),
                         generator=torch.Generator().manual_seed(0))  # (N, T): each row seen once
    timer = step_timer()
    settings = dict(max_steps=steps, batch_size=args.batch_size, lr=3e-4, warmup_ratio=0.05, weight_decay=0.1,
                    max_grad_norm=1.0, log_every=10, save_every=10**6, eval_every=10**6, schedule="cosine")
    if args.way.startswith("lmstack"):
        from lmstack.train.config import TrainSection
        from lmstack.train.pretrain import pretrain

        cfg = TrainSection(validation_share=0.0, compile=args.way == "lmstack-compile", **settings)
        profile = profiler(args, timer)
        pretrain(model, tokenizer, rows, work / "run", cfg, seed=0, device=cpu, bf16=bf16, resume=False,
                 callbacks=[timer, *profile])
    else:
        from transformers import Trainer, TrainingArguments

        training_args = TrainingArguments(
            output_dir=str(work / "hf"), max_steps=steps, per_device_train_batch_size=args.batch_size,
            learning_rate=settings["lr"], warmup_steps=int(0.05 * steps), weight_decay=0.1, max_grad_norm=1.0,
            lr_scheduler_type="cosine", logging_steps=10, save_strategy="no", bf16=bf16, use_cpu=True,
            report_to="none", disable_tqdm=True, seed=0, dataloader_num_workers=0)
        train = [{"input_ids": r, "labels": r} for r in rows]
        profile = profiler(args, timer)
        Trainer(model=model, args=training_args, train_dataset=train, callbacks=[timer, *profile]).train()
    shutil.rmtree(work, ignore_errors=True)  # a saved 125M model is half a gigabyte
    timed = timer.ends[args.warmup_steps - 1:]  # from the end of the last warm-up step
    seconds = timed[-1] - timed[0]
    tokens_per_s = args.steps * args.batch_size * args.seq_len / seconds
    return {"preset": args.preset, "way": args.way, "threads": threads, "bf16": bf16,
            "parameters": sum(p.numel() for p in model.parameters()),
            "flops_per_token": flops_per_token(model, args.seq_len), "tokens_per_s": tokens_per_s,
            "step_s": seconds / args.steps, "warmup_s": timed[0] - timer.begin, "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def profiler(args, timer) -> list:
    """A callback that profiles `--profile` steps after the warm-up and prints the top ops, or nothing."""
    if not args.profile:
        return []
    import torch
    from torch.profiler import ProfilerActivity, profile
    from transformers import TrainerCallback

    class Profile(TrainerCallback):
        def __init__(self):
            self.prof = None

        def on_step_end(self, a, state, control, **kwargs):
            if state.global_step == args.warmup_steps:
                self.prof = profile(activities=[ProfilerActivity.CPU], record_shapes=False)
                self.prof.__enter__()
            elif self.prof is not None and state.global_step == args.warmup_steps + args.profile:
                self.prof.__exit__(None, None, None)
                print(self.prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.profile_rows),
                      file=sys.stderr)
                self.prof = None
                torch.set_printoptions()

    return [Profile()]


def run_child(args, preset: str, way: str) -> dict:
    command = [sys.executable, __file__, "--child", "--preset", preset, "--way", way, "--seq-len", str(args.seq_len),
               "--batch-size", str(args.batch_size), "--steps", str(args.steps),
               "--warmup-steps", str(args.warmup_steps), "--threads", str(args.threads), "--work-dir", args.work_dir,
               "--profile", str(args.profile), "--profile-rows", str(args.profile_rows),
               *([] if args.bf16 else ["--no-bf16"])]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{preset} / {way} failed:\n{done.stderr[-4000:]}")
    if args.profile:
        print(done.stderr[done.stderr.find("-----"):], file=sys.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--presets", nargs="+", default=["llama-20m", "llama-125m"])
    p.add_argument("--ways", nargs="+", default=["hf", "lmstack", "lmstack-compile"],
                   choices=["hf", "lmstack", "lmstack-compile"], help="lmstack-compile: with train.compile: true")
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--steps", type=int, default=6, help="timed optimizer steps per run")
    p.add_argument("--warmup-steps", type=int, default=2, help="untimed steps first (at least 1)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", default="auto")
    p.add_argument("--no-bf16", dest="bf16", action="store_false")
    p.add_argument("--profile", type=int, default=0, help="profile this many steps after the warm-up")
    p.add_argument("--profile-rows", type=int, default=25)
    p.add_argument("--json", help="write every run's measurements here")
    p.add_argument("--work-dir", default=tempfile.gettempdir())
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--preset", help=argparse.SUPPRESS)
    p.add_argument("--way", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.warmup_steps < 1:
        p.error("--warmup-steps must be at least 1: timing starts at the end of a step")
    if args.child:
        print(json.dumps(child(args)))
        return

    from lmstack.hardware.measure import measure

    before = measure(budget_s=6.0, threads=args.threads).to_dict()
    print(json.dumps({"measured_before": before}), flush=True)
    runs = []
    for repeat in range(args.repeats):
        for preset in args.presets:
            ways = args.ways if repeat % 2 == 0 else args.ways[::-1]
            for way in ways:
                runs.append(run_child(args, preset, way) | {"repeat": repeat})
                print(json.dumps(runs[-1]), flush=True)
    after = measure(budget_s=6.0, threads=args.threads).to_dict()
    print(json.dumps({"measured_after": after}), flush=True)
    key = "matmul_gflops_bf16" if runs[0]["bf16"] else "matmul_gflops_fp32"
    # the better of the two: a slower reading is other work on the machine, not its peak
    table = summary(runs, args, max(before[key], after[key]) * 1e9)
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps({"measured": [before, after], "args": vars(args), "runs": runs},
                                              indent=1))


def summary(runs: list[dict], args, flops_per_s: float) -> str:
    """A Markdown table of medians, each way beside the HF baseline of the same preset."""
    lines = [f"seq {args.seq_len}, batch {args.batch_size}, {args.steps} timed steps after {args.warmup_steps}, "
             f"median of {args.repeats}; F = {flops_per_s / 1e9:.0f} GFLOP/s",
             "", "| preset | params | way | tokens/s | step s | warm-up s | MFU | peak RSS GiB | vs HF Trainer |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for preset in args.presets:
        medians = {}
        for way in args.ways:
            mine = [r for r in runs if r["preset"] == preset and r["way"] == way]
            medians[way] = {k: statistics.median(r[k] for r in mine) for k in ("tokens_per_s", "step_s", "warmup_s", "peak_rss_gib")}
            medians[way] |= {"parameters": mine[0]["parameters"], "flops_per_token": mine[0]["flops_per_token"]}
        for way, m in medians.items():
            ratio = m["tokens_per_s"] / medians["hf"]["tokens_per_s"] if "hf" in medians else float("nan")
            mfu = m["tokens_per_s"] * m["flops_per_token"] / flops_per_s
            lines.append(f"| {preset} | {m['parameters'] / 1e6:.1f}M | {way} | {m['tokens_per_s']:.0f} | "
                         f"{m['step_s']:.2f} | {m['warmup_s']:.1f} | {mfu:.1%} | {m['peak_rss_gib']:.2f} | {ratio:.2f}× |")
    return "\n".join(lines)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
