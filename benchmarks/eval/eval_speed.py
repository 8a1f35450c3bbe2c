"""Eval speed: examples per second of a generation eval, local batched generation against the same
model behind `lmstack serve` (endpoint runner, concurrent requests), with a greedy parity check.

    flock /tmp/lmstack-bench.lock .venv/bin/python benchmarks/eval/eval_speed.py \\
        --model /tmp/eval-bench/runs/customer-service/train/model \\
        --data-dir /tmp/eval-bench/runs/customer-service/data

The model is the customer-service example's (`lmstack run examples/customer-service/project.yaml`);
the tasks are the example's generation tasks (test split, BLEU / chrF / ROUGE / F1, zh and en).
Each way runs the whole `lmstack eval run` loop (`lmstack.eval.run.evaluate`: prompts, generation,
per-example saves, metrics) from scratch `--repeats` times; examples/s is the median. Both ways use
the same weights, dtype, max_new_tokens and greedy decoding, so the predictions should agree: each
run's predictions are compared with those of local generation at batch size 1.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import torch

from lmstack.eval.run import evaluate
from lmstack.eval.runners import EndpointRunner, LocalRunner
from lmstack.eval.tasks import load_tasks

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: Path, dtype: str, max_batch_size: int, work: Path) -> tuple[subprocess.Popen, str]:
    """`lmstack serve` with the model as `cs`; returns once /v1/models answers."""
    port = free_port()
    cmd = [str(ROOT / ".venv/bin/lmstack"), "serve", "--model", f"cs={model}", "--port", str(port), "--device", "cpu",
           "--dtype", dtype, "--max-batch-size", str(max_batch_size), "--no-embeddings",
           "--db-url", f"sqlite:///{work / 'serve.db'}"]
    log = (work / "serve.log").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"lmstack serve exited with {proc.returncode}; see {work / 'serve.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return proc, f"http://127.0.0.1:{port}/v1"
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    sys.exit("lmstack serve did not start within 180 s")


def run_once(tasks: Path, only: list[str], runner, out: Path, data_dir: Path) -> tuple[float, int, dict, dict]:
    """Seconds, examples, {task/id: prediction} and {task score: value} of one eval from scratch."""
    t0 = time.perf_counter()
    record = evaluate(tasks, runner, out, only=only, restart=True, show_progress=False, data_dir=data_dir)
    seconds = time.perf_counter() - t0
    predictions, scores, examples = {}, {}, 0
    for name, task in record["tasks"].items():
        examples += task["dataset"]["examples"]
        for line in Path(task["examples_file"]).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            predictions[f"{name}/{row['id']}"] = row["prediction"]
        for metric in task["metrics"].values():
            scores.update({f"{name} {k}": v for k, v in metric["scores"].items()})
    return seconds, examples, predictions, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="Model folder (weights and tokenizer).")
    parser.add_argument("--data-dir", type=Path, required=True, help="The project's data stage folder.")
    parser.add_argument("--tasks", type=Path, default=ROOT / "examples/customer-service/eval.yaml")
    parser.add_argument("--task", action="append", default=None, help="Task to run [answers-zh, answers-en].")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 16],
                        help="Local batch sizes and endpoint concurrencies.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", default="float32", help="Weights and compute dtype on both sides.")
    parser.add_argument("--out", type=Path, default=Path("/tmp/eval-bench/speed.json"))
    args = parser.parse_args()
    only = args.task or ["answers-zh", "answers-en"]
    task_file, _ = load_tasks(args.tasks)
    max_new = {t.name: t.generation.max_new_tokens for t in task_file.tasks if t.name in only}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="eval-speed-", dir=args.out.parent))  # results and the server's log

    rows, reference = [], None

    def measure(way: str, size: int, runner) -> None:
        nonlocal reference
        runs = [run_once(args.tasks, only, runner, work / f"{way}-{size}", args.data_dir) for _ in range(args.repeats)]
        rates = [n / s for s, n, _, _ in runs]
        predictions = [p for _, _, p, _ in runs]
        if reference is None:
            reference = predictions[0]
        same = min(sum(p[k] == reference[k] for k in reference) / len(reference) for p in predictions)
        rows.append({"way": way, "size": size, "examples": runs[0][1], "examples_per_s": statistics.median(rates),
                     "runs_examples_per_s": rates, "same_as_local_1": same, "scores": runs[0][3]})
        runs_text = ", ".join(f"{r:.2f}" for r in rates)
        print(f"{way:8s} {size:3d}: {statistics.median(rates):7.2f} ex/s (runs {runs_text}), "
              f"predictions equal to local batch 1: {same:.1%}", flush=True)

    local = LocalRunner.from_path(args.model, device="cpu", dtype=args.dtype)
    for size in args.sizes:
        local.batch_size = size
        measure("local", size, local)
    del local

    proc, url = start_server(args.model, args.dtype, max(args.sizes), work)
    try:
        for size in args.sizes:
            endpoint = EndpointRunner(url, concurrency=size, timeout_s=300)
            measure("endpoint", size, endpoint)
    finally:
        proc.terminate()
        proc.wait(30)

    result = {"command": " ".join(sys.argv), "model": str(args.model), "tasks": only, "max_new_tokens": max_new,
              "dtype": args.dtype, "repeats": args.repeats, "torch_threads": torch.get_num_threads(),
              "rows": rows}
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    base = next(r["examples_per_s"] for r in rows if r["way"] == "local" and r["size"] == args.sizes[0])
    print("\n| way | batch / concurrency | examples | examples/s (median of "
          f"{args.repeats}) | vs local batch {args.sizes[0]} | predictions = local batch {args.sizes[0]} |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['way']} | {r['size']} | {r['examples']} | {r['examples_per_s']:.2f} | "
              f"{r['examples_per_s'] / base:.2f}× | {r['same_as_local_1']:.1%} |")
    print("\nscores:", {f"{r['way']} {r['size']}": {k: round(v, 2) for k, v in r["scores"].items() if "chrf" in k}
                        for r in rows})


if __name__ == "__main__":
    main()
