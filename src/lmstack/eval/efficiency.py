"""Serving efficiency beside quality: a `lmstack bench serve` result attached to a model's record.

    lmstack bench serve --url http://127.0.0.1:8000 --model tuned --out bench/
    lmstack eval run tasks.yaml --model http://127.0.0.1:8000/v1 --bench bench/bench.json

Latency figures mean nothing without the load that produced them (a p99 TTFT at concurrency 1
and at concurrency 64 are different numbers), so the load shape travels with every figure and is
printed on every table. The record keeps the summary (vLLM's definitions, see
`lmstack.serve.bench_metrics`) and each successful request's TTFT and E2E latency for the CDFs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lmstack.errors import UserError

LATENCIES = {"ttft_ms": "TTFT", "tpot_ms": "TPOT", "e2el_ms": "E2E"}
STATS = ("mean", "median", "p99")
_REQUIRED = ("load_shape", "completed", "failed", "request_throughput_qps", "output_tokens_per_s", *LATENCIES)
_HINT = "pass the bench.json written by `lmstack bench serve --out DIR`"


def load_bench(path: str | os.PathLike) -> dict[str, Any]:
    """The efficiency entry of a record, read from a `lmstack bench serve` bench.json."""
    path = Path(path)
    try:
        bench = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"bench file {str(path)!r} does not exist", hint=_HINT) from None
    except json.JSONDecodeError as e:
        raise UserError(f"bench file {str(path)!r} is not valid JSON ({e.msg}, line {e.lineno})", hint=_HINT) from None
    missing = [k for k in _REQUIRED if not isinstance(bench, dict) or k not in bench]
    if missing:
        raise UserError(f"bench file {str(path)!r} lacks {', '.join(missing)}", hint=_HINT)
    ok = [r for r in bench.get("requests", []) if r.get("ok")]
    kept = (*_REQUIRED, "duration_s", "total_tokens_per_s")
    return {"source": str(path), **{k: bench[k] for k in kept if k in bench},
            "latencies_ms": {"ttft": sorted(r["ttft_s"] * 1000 for r in ok),
                             "e2el": sorted(r["e2e_s"] * 1000 for r in ok)}}


def load_shape_text(shape: dict[str, Any]) -> str:
    """One line describing the load.

    >>> load_shape_text({"max_concurrency": 4, "request_rate": "inf", "burstiness": 1.0, "input_len": 128,
    ...                  "output_len": 64, "num_prompts": 32})
    'concurrency 4, request rate inf/s (burstiness 1.0), input 128 / output 64 tokens, 32 prompts'
    """
    return (f"concurrency {shape.get('max_concurrency') or 'unbounded'}, request rate {shape.get('request_rate')}/s "
            f"(burstiness {shape.get('burstiness')}), input {shape.get('input_len')} / output "
            f"{shape.get('output_len')} tokens, {shape.get('num_prompts')} prompts")


def _num(x: Any, digits: str = ".1f") -> str:
    return "–" if x is None else format(x, digits)


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


def parse_bench_options(options: list[str], labels: list[str]) -> dict[int, Path]:
    """`NAME=bench.json` options, NAME a model's position (0, 1, …) or its label, as {position: path}.

    >>> parse_bench_options(["1=b.json", "base=a.json"], ["base", "tuned"])
    {1: PosixPath('b.json'), 0: PosixPath('a.json')}
    """
    out: dict[int, Path] = {}
    for option in options:
        name, sep, path = option.partition("=")
        if not sep or not path:
            raise UserError(f"--bench {option!r} is not NAME=bench.json",
                            hint="NAME is the model's position (0 for the first results file) or its label")
        if name.isdigit() and int(name) < len(labels):
            out[int(name)] = Path(path)
        elif name in labels:
            out[labels.index(name)] = Path(path)
        else:
            raise UserError(f"--bench {option!r}: no model {name!r}",
                            hint=f"use a position 0–{len(labels) - 1} or one of: {', '.join(labels)}")
    return out
