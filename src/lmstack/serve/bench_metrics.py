"""What a serving benchmark reports (vLLM's definitions, REFERENCE.md), and how: JSON, a table, a CDF plot.

TTFT: request sent → first text chunk. TPOT per request: (E2E − TTFT) / (output tokens − 1).
ITL: gaps between streamed chunks, pooled over all requests. E2EL: request sent → last chunk.
Goodput: requests per second that met every SLO given (`ttft_ms`, `tpot_ms`, `e2el_ms`).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from pathlib import Path

from lmstack.atomic import atomic_path, write_json
from lmstack.serve.loadgen import LoadShape, RequestResult

SLO_KEYS = {"ttft_ms": "ttft", "tpot_ms": "tpot", "e2el_ms": "e2el"}


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    """
    if not values:
        return math.nan
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _stats_ms(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {"mean": statistics.fmean(ms) if ms else math.nan, "median": percentile(ms, 50),
            "p99": percentile(ms, 99)}


def tpot_s(r: RequestResult) -> float | None:
    return (r.e2e_s - r.ttft_s) / (r.output_tokens - 1) if r.output_tokens > 1 else None


def summarize(results: list[RequestResult], duration_s: float, shape: LoadShape,
              slos_ms: dict[str, float] | None = None) -> dict:
    ok = [r for r in results if r.ok]
    tpots = [t for r in ok if (t := tpot_s(r)) is not None]
    out_tokens = sum(r.output_tokens for r in ok)
    in_tokens = sum(r.prompt_tokens for r in ok)
    summary = {
        "load_shape": dataclasses.asdict(shape) | {"request_rate": str(shape.request_rate)},
        "duration_s": duration_s,
        "completed": len(ok),
        "failed": len(results) - len(ok),
        "errors": sorted({r.error for r in results if not r.ok})[:10],
        "request_throughput_qps": len(ok) / duration_s if duration_s else math.nan,
        "output_tokens_per_s": out_tokens / duration_s if duration_s else math.nan,
        "total_tokens_per_s": (in_tokens + out_tokens) / duration_s if duration_s else math.nan,
        "ttft_ms": _stats_ms([r.ttft_s for r in ok]),
        "tpot_ms": _stats_ms(tpots),
        "itl_ms": _stats_ms([g for r in ok for g in r.itl_s]),
        "e2el_ms": _stats_ms([r.e2e_s for r in ok]),
    }
    if slos_ms:
        good = [r for r in ok if _meets(r, slos_ms)]
        summary["slos_ms"] = slos_ms
        summary["goodput_qps"] = len(good) / duration_s if duration_s else math.nan
    return summary


def _meets(r: RequestResult, slos_ms: dict[str, float]) -> bool:
    measured = {"ttft": r.ttft_s, "tpot": tpot_s(r) or 0.0, "e2el": r.e2e_s}
    return all(measured[SLO_KEYS[k]] * 1000 <= limit for k, limit in slos_ms.items())


def parse_slos(text: str | None) -> dict[str, float]:
    """`ttft:500 tpot:50` (milliseconds) as {"ttft_ms": 500.0, "tpot_ms": 50.0}.

    >>> parse_slos("ttft:500 tpot:50")
    {'ttft_ms': 500.0, 'tpot_ms': 50.0}
    """
    from lmstack.errors import UserError

    out = {}
    for part in (text or "").split():
        name, _, value = part.partition(":")
        key = f"{name}_ms"
        try:
            if key not in SLO_KEYS:
                raise ValueError
            out[key] = float(value)
        except ValueError:
            raise UserError(f"bad SLO {part!r}", hint="write e.g. 'ttft:500 tpot:50' (milliseconds; "
                                                      "ttft, tpot, e2el)") from None
    return out


def table_rows(summary: dict) -> list[tuple[str, str]]:
    s = summary["load_shape"]
    rows = [("load", f"{summary['completed']} ok / {summary['failed']} failed, rate {s['request_rate']}/s, "
                     f"burstiness {s['burstiness']}, concurrency {s['max_concurrency'] or 'unbounded'}, "
                     f"in {s['input_len']} / out {s['output_len']} tokens"),
            ("request throughput", f"{summary['request_throughput_qps']:.2f} req/s"),
            ("output tokens/s", f"{summary['output_tokens_per_s']:.1f}"),
            ("total tokens/s", f"{summary['total_tokens_per_s']:.1f}")]
    for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms"):
        m = summary[key]
        rows.append((key.replace("_ms", "").upper() + " ms", f"mean {m['mean']:.1f}  median {m['median']:.1f}  "
                                                               f"p99 {m['p99']:.1f}"))
    if "goodput_qps" in summary:
        rows.append(("goodput", f"{summary['goodput_qps']:.2f} req/s within {summary['slos_ms']}"))
    return rows


def write_outputs(out_dir: Path, summary: dict, results: list[RequestResult]) -> list[Path]:
    """bench.json (summary and per-request timings) and latency_cdf.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "bench.json", summary | {"requests": [dataclasses.asdict(r) for r in results]})
    ok = [r for r in results if r.ok]
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values in (("TTFT", [r.ttft_s for r in ok]), ("TPOT", [t for r in ok if (t := tpot_s(r))]),
                          ("E2EL", [r.e2e_s for r in ok])):
        xs = sorted(v * 1000 for v in values)
        ax.step(xs, [(i + 1) / len(xs) for i in range(len(xs))], where="post", label=label)
    s = summary["load_shape"]
    ax.set(xscale="log", xlabel="latency (ms)", ylabel="share of requests",
           title=f"rate {s['request_rate']}/s, concurrency {s['max_concurrency'] or '∞'}")
    ax.legend()
    fig.tight_layout()
    with atomic_path(out_dir / "latency_cdf.png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return [out_dir / "bench.json", out_dir / "latency_cdf.png"]
