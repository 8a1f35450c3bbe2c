"""Cleaning throughput and peak memory: `lmstack data run` against datatrove on the same corpus.

    flock /tmp/lmstack-bench.lock .venv/bin/python benchmarks/data/bench.py \\
        --corpus /tmp/data/bench/corpus --docs 100000 --datatrove-python /tmp/data/dt-venv/bin/python --repeats 3

Makes the corpus (make_corpus.py) when it is missing, then runs each tool `--repeats` times,
alternating, on the standard recipe (recipe.yaml: NFKC, whitespace, Gopher quality and repetition,
MinHash dedup) with 2 processes each. Per run: wall seconds, documents per second, and peak memory
both as the largest single process (/usr/bin/time's maximum RSS) and as the whole process tree
(the sum of its processes' RSS, sampled every 50 ms). Prints one JSON line per run and a summary
with medians; `--json` also writes them to a file.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def measure(cmd: list[str], cwd: Path | None = None) -> dict:
    """Run `cmd` under /usr/bin/time -v; its wall time, exit code, and peak RSS (largest process and tree sum)."""
    start = time.perf_counter()
    proc = subprocess.Popen(["/usr/bin/time", "-v", *cmd], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peak_tree = 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak_tree = max(peak_tree, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    max_rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(max_rss_kb / 1024), "peak_tree_rss_mib": round(peak_tree / 2**20),
            "stdout": out}


def recipe_with_index_mb(index_mb: float | None, work: Path) -> Path:
    """recipe.yaml, or a copy whose minhash_dedup step has `max_index_mb: index_mb`."""
    if index_mb is None:
        return HERE / "recipe.yaml"
    import yaml

    raw = yaml.safe_load((HERE / "recipe.yaml").read_text())
    for step in raw["steps"]:
        if step["op"] == "minhash_dedup":
            step["max_index_mb"] = index_mb
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"recipe-index-{index_mb:g}mb.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def lmstack_run(corpus: Path, out: Path, num_proc: int, recipe: Path = HERE / "recipe.yaml") -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(ROOT / ".venv/bin/lmstack"), "data", "run", str(recipe), "--data-dir", str(corpus),
           "--out", str(out), "--no-html", "--no-progress", "--json", "--num-proc", str(num_proc)]
    m = measure(cmd)
    report = json.loads(m.pop("stdout"))
    removed = {o["step"]: o["removed"] for o in report["operators"]}
    return {**m, "kept": report["rows_kept"], "removed_by_filters": removed["gopher_quality"] + removed["gopher_repetition"],
            "removed_by_minhash": removed["minhash_dedup"], "command": " ".join(cmd)}


def datatrove_run(python: str, corpus: Path, work: Path, tasks: int) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    cmd = [python, str(HERE / "datatrove_pipeline.py"), str(corpus), str(work), "--tasks", str(tasks)]
    m = measure(cmd)
    result = json.loads(m.pop("stdout").strip().splitlines()[-1])
    return {**m, "kept": result["kept"], "after_filters": result["after_filters"], "command": " ".join(cmd)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("/tmp/data/bench/corpus"))
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/data/bench/work"))
    ap.add_argument("--datatrove-python", default="/tmp/data/dt-venv/bin/python")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=["lmstack", "datatrove"], default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--index-mb", type=float, nargs="*", default=[],
                    help="also run lmstack with these `max_index_mb` budgets for the MinHash index (one tool row each)")
    args = ap.parse_args()
    if not (args.corpus / "corpus-0.jsonl").is_file():
        subprocess.run([sys.executable, str(HERE / "make_corpus.py"), str(args.corpus), "--docs", str(args.docs)], check=True)
    docs = sum(1 for f in sorted(args.corpus.glob("corpus-*.jsonl")) for _ in open(f, "rb"))
    runs: dict[str, list[dict]] = {"lmstack": [], "datatrove": [], **{f"lmstack-index-{mb:g}mb": [] for mb in args.index_mb}}
    for i in range(args.repeats):
        if args.only != "datatrove":
            runs["lmstack"].append(lmstack_run(args.corpus, args.work / "lmstack", args.processes))
            print(json.dumps({"tool": "lmstack", "run": i, **runs["lmstack"][-1]}), flush=True)
            for mb in args.index_mb:
                tool = f"lmstack-index-{mb:g}mb"
                runs[tool].append(lmstack_run(args.corpus, args.work / "lmstack", args.processes, recipe_with_index_mb(mb, args.work)))
                print(json.dumps({"tool": tool, "run": i, **runs[tool][-1]}), flush=True)
        if args.only != "lmstack":
            runs["datatrove"].append(datatrove_run(args.datatrove_python, args.corpus, args.work / "datatrove", args.processes))
            print(json.dumps({"tool": "datatrove", "run": i, **runs["datatrove"][-1]}), flush=True)
    summary = {"docs": docs, "bytes": sum(f.stat().st_size for f in args.corpus.glob("corpus-*.jsonl")),
               "processes": args.processes, "repeats": args.repeats}
    for tool, rs in runs.items():
        if rs:
            seconds = statistics.median(r["seconds"] for r in rs)
            summary[tool] = {"median_seconds": seconds, "docs_per_second": round(docs / seconds, 1),
                             "peak_rss_mib": max(r["peak_rss_mib"] for r in rs),
                             "peak_tree_rss_mib": max(r["peak_tree_rss_mib"] for r in rs),
                             "kept": rs[0]["kept"], "seconds": [r["seconds"] for r in rs]}
    if runs["lmstack"] and runs["datatrove"]:
        for tool in runs:
            if tool.startswith("lmstack") and runs[tool]:
                key = "speedup" if tool == "lmstack" else f"speedup_{tool}"
                summary[key] = round(summary["datatrove"]["median_seconds"] / summary[tool]["median_seconds"], 2)
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
