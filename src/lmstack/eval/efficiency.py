"""Serving efficiency beside quality: `lmstack bench serve` results attached to a model's record.

    lmstack bench serve --url http://127.0.0.1:8000 --model tuned --max-concurrency 1 --out bench/c1
    lmstack bench serve --url http://127.0.0.1:8000 --model tuned --max-concurrency 8 --out bench/c8
    lmstack eval run tasks.yaml --model http://127.0.0.1:8000/v1 --bench bench/

Latency figures mean nothing without the load that produced them (a p99 TTFT at concurrency 1
and at concurrency 64 are different numbers), so the load shape travels with every figure and is
printed on every table. An entry keeps the summary (vLLM's definitions, see
`lmstack.serve.bench_metrics`) and each successful request's TTFT and E2E latency for the CDFs.
A record's `efficiency` is one entry (one bench file) or a list of entries, one per load shape,
ordered by concurrency then request rate; `bench_entries` reads either.
"""

from __future__ import annotations

import glob
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lmstack.errors import UserError

LATENCIES = {"ttft_ms": "TTFT", "tpot_ms": "TPOT", "e2el_ms": "E2E"}
STATS = ("mean", "median", "p99")
_REQUIRED = ("load_shape", "completed", "failed", "request_throughput_qps", "output_tokens_per_s", *LATENCIES)
_HINT = "pass the bench.json written by `lmstack bench serve --out DIR` (or DIR itself)"
# The per-load-shape table: (column, summary key, statistic or None, format).
LOAD_COLUMNS = (("QPS (req/s)", "request_throughput_qps", None, ".2f"),
                ("output tok/s", "output_tokens_per_s", None, ".1f"),
                ("TTFT p50 (ms)", "ttft_ms", "median", ".1f"), ("TTFT p99 (ms)", "ttft_ms", "p99", ".1f"),
                ("TPOT p50 (ms)", "tpot_ms", "median", ".1f"), ("TPOT p99 (ms)", "tpot_ms", "p99", ".1f"),
                ("E2E p50 (ms)", "e2el_ms", "median", ".1f"), ("E2E p99 (ms)", "e2el_ms", "p99", ".1f"))


def bench_entry(bench: dict[str, Any], source: str = "") -> dict[str, Any]:
    """An efficiency entry from a bench summary: what `lmstack.serve.bench.bench_serve` returns, a
    bench.json (which adds the per-request timings the CDFs need), or an entry already made."""
    missing = [k for k in _REQUIRED if not isinstance(bench, dict) or k not in bench]
    if missing:
        where = f"bench file {source!r}" if source else "bench summary"
        raise UserError(f"{where} lacks {', '.join(missing)}", hint=_HINT)
    if "latencies_ms" in bench and "requests" not in bench:
        latencies = bench["latencies_ms"]
    else:
        ok = [r for r in bench.get("requests", []) if r.get("ok")]
        latencies = {"ttft": sorted(r["ttft_s"] * 1000 for r in ok), "e2el": sorted(r["e2e_s"] * 1000 for r in ok)}
    kept = (*_REQUIRED, "duration_s", "total_tokens_per_s", "goodput_qps", "slos_ms")
    return {"source": source or bench.get("source", ""), **{k: bench[k] for k in kept if k in bench},
            "latencies_ms": latencies}


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"bench file {str(path)!r} does not exist", hint=_HINT) from None
    except IsADirectoryError:
        raise UserError(f"bench file {str(path)!r} is a folder", hint=_HINT) from None
    except json.JSONDecodeError as e:
        raise UserError(f"bench file {str(path)!r} is not valid JSON ({e.msg}, line {e.lineno})", hint=_HINT) from None


def load_bench(path: str | os.PathLike) -> dict[str, Any]:
    """The efficiency entry of a record, read from a `lmstack bench serve` bench.json."""
    return bench_entry(_read(Path(path)), str(path))


def load_bench_file(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Entries of a bench file: one for a `lmstack bench serve` bench.json, one per load shape for a
    file that maps names to such summaries (the project bench stage's bench.json, by concurrency)."""
    bench = _read(Path(path))
    if (isinstance(bench, dict) and "load_shape" not in bench and bench
            and all(isinstance(v, dict) and "load_shape" in v for v in bench.values())):
        return [bench_entry(v, str(path)) for v in bench.values()]
    return [bench_entry(bench, str(path))]


def bench_paths(spec: str | os.PathLike) -> list[Path]:
    """The bench files one `--bench` value names: a file; a folder (every bench.json under it, as
    written by one `lmstack bench serve --out` per load shape); or a glob pattern such as 'bench/*.json'."""
    path = Path(spec)
    if path.is_dir():
        found = sorted(path.rglob("bench.json"))
        if not found:
            raise UserError(f"no bench.json under folder {str(path)!r}", hint=_HINT)
        return found
    if not path.exists() and glob.has_magic(str(spec)):
        found = sorted(Path(p) for p in glob.glob(str(spec), recursive=True) if Path(p).is_file())
        if not found:
            raise UserError(f"no file matches {str(spec)!r}", hint=_HINT)
        return found
    return [path]


def load_order(entry: dict[str, Any]) -> tuple[float, float, int, int, int]:
    """Sort key of a load shape: concurrency (unbounded last), request rate, prompts, input, output."""
    shape = entry["load_shape"]
    return (shape.get("max_concurrency") or math.inf, float(shape.get("request_rate", math.inf)),
            shape.get("num_prompts") or 0, shape.get("input_len") or 0, shape.get("output_len") or 0)


def load_benches(specs: Sequence[str | os.PathLike]) -> list[dict[str, Any]]:
    """Entries for every bench file the specs name (see `bench_paths`), by load shape. A measurement
    found twice (a file named twice, or a summary file beside the per-shape files it summarises) is
    kept once, from the copy that has the per-request latencies."""
    paths = {p.resolve(): p for spec in specs for p in bench_paths(spec)}
    kept: dict[str, dict[str, Any]] = {}
    for entry in (e for p in paths.values() for e in load_bench_file(p)):
        key = json.dumps([entry["load_shape"], entry["completed"], entry["request_throughput_qps"],
                          entry["output_tokens_per_s"]], sort_keys=True)
        if key not in kept or len(entry["latencies_ms"]["ttft"]) > len(kept[key]["latencies_ms"]["ttft"]):
            kept[key] = entry
    return sorted(kept.values(), key=load_order)


def load_efficiency(specs: Sequence[str | os.PathLike]) -> dict[str, Any] | list[dict[str, Any]] | None:
    """A record's `efficiency`: None for no specs, the entry for one bench file, else the entries."""
    entries = load_benches(specs) if specs else []
    return None if not entries else entries[0] if len(entries) == 1 else entries


def bench_entries(efficiency: dict[str, Any] | Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A record's `efficiency` (None, one entry or bench summary, or several) as entries by load shape."""
    if not efficiency:
        return []
    items = [efficiency] if isinstance(efficiency, dict) else list(efficiency)
    return sorted((bench_entry(e) for e in items), key=load_order)


def load_shape_text(shape: dict[str, Any]) -> str:
    """One line describing the load.

    >>> load_shape_text({"max_concurrency": 4, "request_rate": "inf", "burstiness": 1.0, "input_len": 128,
    ...                  "output_len": 64, "num_prompts": 32})
    'concurrency 4, request rate inf/s (burstiness 1.0), input 128 / output 64 tokens, 32 prompts'
    """
    return (f"concurrency {shape.get('max_concurrency') or 'unbounded'}, request rate {shape.get('request_rate')}/s "
            f"(burstiness {shape.get('burstiness')}), input {shape.get('input_len')} / output "
            f"{shape.get('output_len')} tokens, {shape.get('num_prompts')} prompts")


def load_label(shape: dict[str, Any]) -> str:
    """A short name for a load shape, for plot legends.

    >>> load_label({"max_concurrency": 8, "request_rate": "inf"}), load_label({"request_rate": "2.0"})
    ('c=8', 'c=∞, 2/s')
    """
    rate = float(shape.get("request_rate", math.inf))
    text = f"c={shape.get('max_concurrency') or '∞'}"
    return text if math.isinf(rate) else f"{text}, {rate:g}/s"


def _num(x: Any, digits: str = ".1f") -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, digits)


def load_value(entry: dict[str, Any], key: str, stat: str | None) -> float | None:
    """One figure of an entry: `entry[key]`, or `entry[key][stat]` for latencies; None where absent."""
    value = entry.get(key)
    return value.get(stat) if stat and isinstance(value, dict) else value


def load_shape_table(entries: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and one row per load shape: the load shape stated, requests ok / failed, `LOAD_COLUMNS`,
    and goodput with its SLOs when a bench was run with them."""
    columns = list(LOAD_COLUMNS)
    if any("goodput_qps" in e for e in entries):
        columns.append(("goodput (req/s)", "goodput_qps", None, ".2f"))
    header = ["load shape", "ok / failed", *(name for name, *_ in columns)]
    rows = [[load_shape_text(e["load_shape"]), f"{e['completed']} / {e['failed']}",
             *(_num(load_value(e, key, stat), digits) for _, key, stat, digits in columns)] for e in entries]
    for row, e in zip(rows, entries):
        if "slos_ms" in e:
            row[-1] += " within " + ", ".join(f"{k.removesuffix('_ms')} ≤ {v:g} ms" for k, v in e["slos_ms"].items())
    return header, rows


def efficiency_rows(entries: list[dict[str, Any] | None]) -> list[tuple[str, list[str]]]:
    """Rows (label, one cell per model) for a side-by-side table; "–" where a model has no bench.

    The first row is always the load shape.
    """
    def cells(fn) -> list[str]:
        return [fn(e) if e else "–" for e in entries]

    rows = [("load shape", cells(lambda e: load_shape_text(e["load_shape"]))),
            ("requests ok / failed", cells(lambda e: f"{e['completed']} / {e['failed']}")),
            ("QPS (req/s)", cells(lambda e: _num(e["request_throughput_qps"], ".2f"))),
            ("output tokens/s", cells(lambda e: _num(e["output_tokens_per_s"])))]
    for key, label in LATENCIES.items():
        for stat in STATS:
            rows.append((f"{label} {stat} (ms)", cells(lambda e, k=key, s=stat: _num(e[k].get(s)))))
    return rows


def parse_bench_options(options: list[str], labels: list[str]) -> dict[int, list[Path]]:
    """`NAME=bench.json` options, NAME a model's position (0, 1, …) or its label, as {position: paths}.
    A model named more than once gets every file (one per load shape); a path may be a folder or glob.

    >>> parse_bench_options(["1=b.json", "base=a.json", "1=c.json"], ["base", "tuned"])
    {1: [PosixPath('b.json'), PosixPath('c.json')], 0: [PosixPath('a.json')]}
    """
    out: dict[int, list[Path]] = {}
    for option in options:
        name, sep, path = option.partition("=")
        if not sep or not path:
            raise UserError(f"--bench {option!r} is not NAME=bench.json",
                            hint="NAME is the model's position (0 for the first results file) or its label")
        if name.isdigit() and int(name) < len(labels):
            out.setdefault(int(name), []).append(Path(path))
        elif name in labels:
            out.setdefault(labels.index(name), []).append(Path(path))
        else:
            raise UserError(f"--bench {option!r}: no model {name!r}",
                            hint=f"use a position 0–{len(labels) - 1} or one of: {', '.join(labels)}")
    return out
