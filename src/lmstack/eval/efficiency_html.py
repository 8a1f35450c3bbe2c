"""A model's serving efficiency across load shapes as one HTML fragment: a table with a row per load
shape, TTFT and E2E latency CDFs with a line per load shape, and throughput against latency as the
concurrency grows, beside the model's quality scores when given. Plots are embedded as base64 PNG,
so the fragment can be placed in any page (the eval report, a project's final report).

    >>> from lmstack.eval.efficiency import load_benches
    >>> html = render_efficiency_html(load_benches(["bench/"]), quality={"answers-en chrf": 41.2})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Environment

from lmstack.eval.efficiency import bench_entries, load_label, load_shape_table, load_value
from lmstack.report.plots import Panel, cdf_base64, tradeoff_base64

_FRAGMENT = """<div class="lmstack-efficiency">
<style>
.lmstack-efficiency table{border-collapse:collapse;margin:.5em 0}
.lmstack-efficiency th,.lmstack-efficiency td{border:1px solid #ccc;padding:.3em .6em}
.lmstack-efficiency th{background:#f3f3f3}
.lmstack-efficiency td.num{text-align:right;font-variant-numeric:tabular-nums}
.lmstack-efficiency img{max-width:32em;margin:.3em}.lmstack-efficiency .note{color:#666;font-size:.9em}
</style>
{% if title %}<h3>{{ title }}</h3>{% endif %}
{% if quality %}<table><tr><th>quality</th><th>score</th></tr>
{% for name, value in quality %}<tr><td>{{ name }}</td><td class="num">{{ value }}</td></tr>{% endfor %}</table>{% endif %}
<table><tr>{% for h in header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in rows %}<tr><td>{{ row[0] }}</td>{% for cell in row[1:] %}<td class="num">{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
<p class="note">One row per load shape (lmstack bench serve); latencies hold only at the load that produced them.
p50 is the median; TPOT is (E2E − TTFT) / (output tokens − 1).</p>
<div>{% for alt, png in plots %}<img alt="{{ alt }}" src="data:image/png;base64,{{ png }}">{% endfor %}</div>
</div>
"""


def _labels(entries: Sequence[dict[str, Any]]) -> list[str]:
    """`load_label` of each entry, with " (2)", " (3)"… on repeats (same concurrency and rate, other lengths)."""
    out: list[str] = []
    for e in entries:
        label = load_label(e["load_shape"])
        n = sum(1 for o in out if o == label or o.startswith(f"{label} ("))
        out.append(f"{label} ({n + 1})" if n else label)
    return out


def tradeoff_panels(entries: Sequence[dict[str, Any]]) -> list[Panel]:
    """Output tok/s against TPOT p50 and QPS against TTFT p50, a point per load shape in load order."""
    labels = _labels(entries)
    return [Panel("TPOT p50 (ms)", "output tokens/s", [load_value(e, "tpot_ms", "median") for e in entries],
                  [e["output_tokens_per_s"] for e in entries], labels),
            Panel("TTFT p50 (ms)", "requests/s", [load_value(e, "ttft_ms", "median") for e in entries],
                  [e["request_throughput_qps"] for e in entries], labels)]


def efficiency_plots(entries: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """(alt text, base64 PNG): TTFT and E2E CDFs by load shape (when per-request latencies are known),
    then the `tradeoff_panels`."""
    plots = []
    for key, name in (("ttft", "TTFT"), ("e2el", "E2E latency")):
        series = {label: e["latencies_ms"].get(key) or [] for label, e in zip(_labels(entries), entries)}
        if any(series.values()):
            plots.append((f"{name} CDF by load shape", cdf_base64(series, title=f"{name} CDF by load shape")))
    plots.append(("throughput vs latency",
                  tradeoff_base64(tradeoff_panels(entries), title="throughput vs latency by load shape")))
    return plots


def render_efficiency_html(bench_summaries: list[dict], *, title: str = "",
                           quality: Mapping[str, float] | None = None) -> str:
    """The fragment for one model's bench results (bench.json contents, `bench_serve` summaries or
    efficiency entries; any order). `quality`, {score name: value}, is shown beside the figures."""
    entries = bench_entries(bench_summaries)
    header, rows = load_shape_table(entries)
    return Environment(autoescape=True).from_string(_FRAGMENT).render(
        title=title, header=header, rows=rows, plots=efficiency_plots(entries) if entries else [],
        quality=[(name, "–" if value is None else f"{value:.4g}") for name, value in (quality or {}).items()])
