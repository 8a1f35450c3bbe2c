"""An HTML report of one or more eval runs: score bars per model, differences, worst examples, and
the serving efficiency of models whose record carries bench results: side by side (table and TTFT /
E2E latency CDFs) when each model has one load shape, else a section per model with a row per load
shape, CDFs by load shape and throughput against latency (`lmstack.eval.efficiency_html`).

One self-contained file (plots embedded as PNG data), so it can be mailed or attached to a
ticket. Model outputs are escaped: a prediction that contains HTML is shown, never run.

    >>> write_report([load_record("a/results.json"), load_record("b/results.json")], "report.html")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment

from lmstack.atomic import write_text
from lmstack.eval.compare import compare, model_label
from lmstack.eval.efficiency import bench_entries, efficiency_rows
from lmstack.eval.efficiency_html import render_efficiency_html

# Per-example statistic used to rank examples from worst to best, by metric: (index in the
# statistic or None for a scalar, True when higher is better).
RANKING: dict[str, tuple[int | None, bool]] = {
    "f1": (None, True), "exact_match": (None, True), "accuracy": (None, True), "rubric": (None, True),
    "rouge": (2, True),  # rougeL
}

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lmstack eval report</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:80em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.text{max-width:30em;white-space:pre-wrap}.plots img{max-width:24em;margin:.3em}.small{color:#666;font-size:.9em}
</style></head><body>
<h1>Evaluation report</h1>
<table><tr><th>#</th><th>model</th><th>created</th><th>results</th></tr>
{% for m in models %}<tr><td>{{ loop.index0 }}</td><td>{{ m.label }}</td><td>{{ m.created }}</td><td>{{ m.path }}</td></tr>{% endfor %}
</table>
{% if efficiency %}
<h2>Efficiency <span class="small">(lmstack bench serve)</span></h2>
<table><tr><th></th>{% for m in models %}<th>[{{ loop.index0 }}]</th>{% endfor %}</tr>
{% for label, cells in efficiency %}<tr><th>{{ label }}</th>{% for cell in cells %}<td class="num">{{ cell }}</td>{% endfor %}</tr>{% endfor %}
</table>
<p class="small">Latencies depend on the load: compare models only at the same load shape.</p>
<div class="plots">{% for png in latency_plots %}<img alt="latency CDF" src="data:image/png;base64,{{ png }}">{% endfor %}</div>
{% endif %}
{% if load_sections %}
<h2>Efficiency across load shapes <span class="small">(lmstack bench serve)</span></h2>
{% for section in load_sections %}{{ section|safe }}{% endfor %}
{% endif %}
{% for task in tasks %}
<h2>{{ task.name }} <span class="small">({{ task.kind }}, {{ task.language }}, {{ task.examples }} examples)</span></h2>
<p class="small">prompt template: <code>{{ task.prompt }}</code>{% if task.chat %}, chat template on{% endif %}</p>
<table><tr><th>score</th>{% for m in models %}<th>[{{ loop.index0 }}]</th>{% endfor %}</tr>
{% for row in task.rows %}<tr><td>{{ row.score }}</td>{% for cell in row.cells %}<td class="num">{{ cell }}</td>{% endfor %}</tr>{% endfor %}
</table>
<p class="small">Cells: score [interval]; for models after the first, the difference from model [0] with its
{{ confidence }} paired-bootstrap interval.</p>
<div class="plots">{% for png in task.plots %}<img alt="bar chart" src="data:image/png;base64,{{ png }}">{% endfor %}</div>
{% for worst in task.worst %}
<h3>Worst {{ worst.rows|length }} examples of [{{ worst.model }}] by {{ worst.by }}</h3>
<table><tr><th>id</th><th>{{ worst.by }}</th><th>prompt</th><th>prediction</th><th>reference</th></tr>
{% for r in worst.rows %}<tr><td>{{ r.id }}</td><td class="num">{{ r.value }}</td><td class="text">{{ r.prompt }}</td>
<td class="text">{{ r.prediction }}</td><td class="text">{{ r.reference }}</td></tr>{% endfor %}
</table>
{% endfor %}
{% endfor %}
</body></html>
"""


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.4g}"


def _bar_chart(score: str, labels: list[str], values: list[float | None], intervals: list[Any]) -> str:
    """A bar per model with its interval as an error bar, as base64 PNG."""
    from lmstack.report.plots import plt, png_base64  # plots selects the display-free backend

    xs = [i for i, v in enumerate(values) if v is not None]
    heights = [values[i] for i in xs]
    low = [values[i] - intervals[i][0] if intervals[i] else 0 for i in xs]
    high = [intervals[i][1] - values[i] if intervals[i] else 0 for i in xs]
    fig, ax = plt.subplots(figsize=(4, 2.8), dpi=100)
    ax.bar([labels[i] for i in xs], heights, yerr=[low, high], capsize=4, color="#4c78a8")
    ax.set_title(score)
    ax.grid(axis="y", alpha=0.3)
    return png_base64(fig)


def _quality(record: dict[str, Any]) -> dict[str, float]:
    """{"task score": value} of a record, to show beside its serving figures."""
    return {f"{task} {name}": value for task, result in record["tasks"].items()
            for metric in result["metrics"].values() for name, value in metric["scores"].items()}


def _efficiency(records: Sequence[dict[str, Any]], labels: list[str]) -> dict[str, Any]:
    """Template fields: the side-by-side table and CDFs when no model has more than one load shape,
    else a fragment per model with bench results."""
    from lmstack.report.plots import cdf_base64

    entries = [bench_entries(r.get("efficiency")) for r in records]
    if not any(entries):
        return {"efficiency": None, "latency_plots": [], "load_sections": []}
    if all(len(e) <= 1 for e in entries):
        benches = [e[0] if e else None for e in entries]
        plots = [cdf_base64({label: (b or {}).get("latencies_ms", {}).get(key) or []
                             for label, b in zip(labels, benches)}, title=f"{name} CDF")
                 for key, name in (("ttft", "TTFT"), ("e2el", "E2E latency"))]
        return {"efficiency": efficiency_rows(benches), "latency_plots": plots, "load_sections": []}
    sections = [render_efficiency_html(e, title=f"[{i}] {model_label(r)}", quality=_quality(r))
                for i, (r, e) in enumerate(zip(records, entries)) if e]
    return {"efficiency": None, "latency_plots": [], "load_sections": sections}


def _worst(record: dict[str, Any], task: dict[str, Any], index: int, n: int) -> dict[str, Any] | None:
    ranked = [name for name in RANKING if name in task["metrics"]]  # RANKING order: f1 first
    path = Path(task.get("examples_file") or "")
    if not ranked or not path.is_file():
        return None
    name = ranked[0]
    position, higher_is_better = RANKING[name]
    lines = {row["id"]: row for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())}
    values = [s if position is None else s[position] for s in task["metrics"][name]["stats"]]
    order = sorted(range(len(values)), key=lambda i: values[i] if higher_is_better else -values[i])[:n]
    rows = []
    for i in order:
        ex_id = task["example_ids"][i]
        line = lines.get(ex_id, {})
        prompt = line.get("prompt")
        rows.append({"id": ex_id, "value": _fmt(values[i]), "prediction": line.get("prediction", ""),
                     "reference": line.get("reference", ""),
                     "prompt": prompt if isinstance(prompt, str) else json.dumps(prompt, ensure_ascii=False)})
    return {"model": index, "by": name if position is None else f"{name} (rougeL)", "rows": rows}


def write_report(records: Sequence[dict[str, Any]], out_html: str | os.PathLike, *, paths: Sequence[str] = (),
                 worst: int = 10, resamples: int = 1000, confidence: float = 0.95) -> Path:
    """Write the report for `records` (the first is the baseline) and return its path."""
    labels = [f"[{i}]" for i in range(len(records))]
    rows = compare(records, resamples=resamples, confidence=confidence) if len(records) > 1 else None
    base = records[0]
    tasks = []
    for task_name, task in base["tasks"].items():
        table, plots = [], []
        for metric_name, metric in task["metrics"].items():
            for score in metric["scores"]:
                values, intervals = [], []
                for record in records:
                    other = record["tasks"].get(task_name, {}).get("metrics", {}).get(metric_name)
                    values.append(other["scores"].get(score) if other else None)
                    intervals.append((other.get("intervals") or {}).get(score) if other else None)
                cells = [f"{_fmt(values[0])} [{_fmt(intervals[0][0])}, {_fmt(intervals[0][1])}]" if intervals[0]
                         else _fmt(values[0])]
                match = next((r for r in rows or [] if r.task == task_name and r.score == score), None)
                for j in range(1, len(records)):
                    diff, ci = (match.differences[j], match.intervals[j]) if match else (None, None)
                    cell = _fmt(values[j])
                    if diff is not None:
                        cell += f" ({diff:+.3g}" + (f" [{ci[0]:+.3g}, {ci[1]:+.3g}])" if ci else ")")
                    cells.append(cell)
                table.append({"score": score, "cells": cells})
                plots.append(_bar_chart(f"{task_name}: {score}", labels, values, intervals))
        worst_tables = [w for i, r in enumerate(records) if task_name in r["tasks"]
                        for w in [_worst(r, r["tasks"][task_name], i, worst)] if w]
        tasks.append({"name": task_name, "kind": task["kind"], "language": task["language"],
                      "examples": task["dataset"]["examples"], "prompt": task["prompt_template"],
                      "chat": task["chat_template"], "rows": table, "plots": plots, "worst": worst_tables})
    models = [{"label": model_label(r), "created": r.get("created", ""), "path": paths[i] if i < len(paths) else ""}
              for i, r in enumerate(records)]
    html = Environment(autoescape=True).from_string(_TEMPLATE).render(
        models=models, tasks=tasks, confidence=f"{confidence:.0%}", **_efficiency(records, labels))
    write_text(out_html, html)
    return Path(out_html)
