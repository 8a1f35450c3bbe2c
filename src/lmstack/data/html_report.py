"""The HTML data report: report.json and the exclusion files of a cleaning run, drawn.

Pictures (matplotlib, embedded as base64 PNGs so the page is one file): rows removed and changed
per step, a removal waterfall from rows read to rows kept, length histograms before and after,
the language mix, PII found by type. Tables: per-step counts with top reasons, a few duplicate
clusters from the dedup steps' exclusions, and noise precision/recall when the run had a sidecar.
Every text taken from the data is HTML-escaped.

>>> write_html_report("out/clean")   # doctest: +SKIP
PosixPath('out/clean/report.html')
"""

from __future__ import annotations

import base64
import io
import json
import re
from html import escape
from pathlib import Path
from typing import Any

from lmstack.atomic import atomic_open
from lmstack.errors import UserError

DEDUP_OPS = ("exact_dedup", "minhash_dedup", "semantic_dedup")
_REPEATS = re.compile(r"(?:with|as) (\S+)$")  # dedup reasons end with the row they repeat
_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
td.n{text-align:right}img{max-width:100%;margin:0.5em 0}.grid{display:grid;grid-template-columns:1fr 1fr;gap:1em}
.muted{color:#777}"""


def _png(draw, width: float = 6.0, height: float = 3.6) -> str:
    """An <img> of what `draw(ax)` plots; Figure (not pyplot) keeps no global state between reports."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=90)
    ax = fig.add_subplot()
    draw(ax)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})  # no version stamp: same bytes on every run
    return f'<img alt="chart" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _steps_chart(report: dict[str, Any]) -> str:
    ops = report["operators"]

    def draw(ax):
        names = [o["step"] for o in ops][::-1]
        ax.barh(names, [o["removed"] for o in ops][::-1], color="#c0392b", label="removed")
        ax.barh(names, [o["changed"] for o in ops][::-1], left=[o["removed"] for o in ops][::-1], color="#2980b9", label="changed")
        ax.set_xlabel("rows")
        ax.set_title("Rows removed and changed per step")
        ax.legend(loc="lower right")

    return _png(draw, height=max(2.5, 0.35 * len(ops) + 1.2))


def _waterfall(report: dict[str, Any]) -> str:
    ops = report["operators"]

    def draw(ax):
        level = report["rows_read"]
        labels, bottoms, heights, colours = ["read"], [0], [level], ["#7f8c8d"]
        for o in ops:
            level -= o["removed"]
            labels.append(o["step"])
            bottoms.append(level)
            heights.append(o["removed"])
            colours.append("#c0392b")
        labels.append("kept")
        bottoms.append(0)
        heights.append(report["rows_kept"])
        colours.append("#27ae60")
        ax.bar(range(len(labels)), heights, bottom=bottoms, color=colours)
        for i, (b, h) in enumerate(zip(bottoms[1:-1], heights[1:-1]), 1):
            if h:
                ax.annotate(f"-{h}", (i, b + h), ha="center", va="bottom", fontsize=7)
        # Removals are usually a few percent: start the axis near the kept count so the steps show.
        removed = report["rows_read"] - report["rows_kept"]
        ax.set_ylim(max(0, report["rows_kept"] - 2 * removed), report["rows_read"] + 0.1 * removed + 1)
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("rows (axis starts near the kept count)" if report["rows_kept"] > 2 * removed else "rows")
        ax.set_title("Removal waterfall")

    return _png(draw, width=max(6.0, 0.5 * len(ops) + 3))


def _bars(title: str, series: dict[str, dict[str, int]], xlabel: str = "") -> str:
    keys = sorted({k for counts in series.values() for k in counts})

    def draw(ax):
        width = 0.8 / max(len(series), 1)
        for j, (name, counts) in enumerate(series.items()):
            ax.bar([i + j * width for i in range(len(keys))], [counts.get(k, 0) for k in keys], width=width, label=name)
        ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(keys))], keys, rotation=30, ha="right")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        if len(series) > 1:
            ax.legend()

    return _png(draw)


def _lengths_chart(hist: dict[str, Any]) -> str:
    edges = hist["edges"]
    labels = [f"{a}-{b - 1}" for a, b in zip(edges, edges[1:])] + [f"{edges[-1]}+"]
    last = max((i for i, (b, a) in enumerate(zip(hist["before"], hist["after"])) if a or b), default=0)
    first = min((i for i, (b, a) in enumerate(zip(hist["before"], hist["after"])) if a or b), default=0)
    labels = labels[first:last + 1]
    series = {"before": dict(zip(labels, hist["before"][first:last + 1])), "after": dict(zip(labels, hist["after"][first:last + 1]))}

    def draw(ax):
        width = 0.4
        for j, (name, counts) in enumerate(series.items()):
            ax.bar([i + j * width for i in range(len(labels))], [counts[k] for k in labels], width=width, label=name)
        ax.set_xticks([i + width / 2 for i in range(len(labels))], labels, rotation=30, ha="right", fontsize=8)
        ax.set_xlabel("characters")
        ax.set_ylabel("rows")
        ax.set_title("Text length before and after")
        ax.legend()

    return _png(draw)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return f'<td class="n">{v}</td>' if isinstance(v, (int, float)) else f"<td>{escape(str(v))}</td>"

    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f"<table><tr>{head}</tr>" + "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows) + "</table>"


def _row_text(row: dict[str, Any], limit: int = 200) -> str:
    if isinstance(row.get("messages"), list) and row["messages"]:
        text = str(row["messages"][0].get("content", ""))
    else:
        text = next((v for v in row.values() if isinstance(v, str)), "")
    return text if len(text) <= limit else text[:limit] + "…"


def dedup_clusters(out_dir: Path, report: dict[str, Any], limit: int = 5, members: int = 4) -> list[dict[str, Any]]:
    """Up to `limit` groups of removed duplicates, largest first: the row they repeat and a few of them."""
    clusters: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for o in report["operators"]:
        path = out_dir / "exclusions" / f"{o['step']}.jsonl"
        if o["op"] not in DEDUP_OPS or not path.exists():
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                entry = json.loads(line)
                found = _REPEATS.search(entry.get("reason") or "")
                if found:
                    clusters.setdefault((o["step"], found.group(1)), []).append(entry)
    ranked = sorted(clusters.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:limit]
    return [{"step": step, "kept": kept, "size": len(rows),
             "removed": [{"where": f"{r['file']}:{r['line']}", "reason": r["reason"], "text": _row_text(r["row"])}
                         for r in rows[:members]]} for (step, kept), rows in ranked]


def render_html(report: dict[str, Any], clusters: list[dict[str, Any]]) -> str:
    """The report page as one self-contained HTML string."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>lmstack data report</title><style>{_CSS}</style></head><body>",
             "<h1>Data cleaning report</h1>",
             f"<p>Read <b>{report['rows_read']}</b> rows, kept <b>{report['rows_kept']}</b>, removed "
             f"<b>{report['rows_removed']}</b> ({report['removed_share']:.2%}; budget {report['budget']['max_removed_ratio']:.0%}).</p>"]
    if report["rejected"]:
        parts.append("<p>Unreadable rows (rejects.jsonl): " + escape(", ".join(f"{k}: {v}" for k, v in report["rejected"].items())) + "</p>")
    for r in report["budget"].get("relaxed", []):
        parts.append(f"<p>Relaxed {escape(r['step'])}.{escape(r['param'])} = {escape(repr(r['value']))} "
                     f"(removed {r['removed_share_before']:.2%} before).</p>")
    parts.append("<h2>Steps</h2>")
    parts.append(_table(["step", "op", "removed", "share", "changed", "top reasons"],
                        [[o["step"], o["op"], o["removed"], f"{o['removed_share']:.2%}", o["changed"],
                          "; ".join(f"{k} ({v})" for k, v in o["reasons"].items())] for o in report["operators"]]))
    parts.append(f"<div class='grid'>{_steps_chart(report)}{_waterfall(report)}</div>")
    parts.append("<h2>Lengths and languages</h2><div class='grid'>")
    if "length_histogram" in report:
        parts.append(_lengths_chart(report["length_histogram"]))
    parts.append(_bars("Language mix", report["languages"]) + "</div>")
    if report["pii"]:
        parts.append("<h2>PII by type</h2>" + _table(["type", "rows changed"], [[k, v] for k, v in report["pii"].items()]))
        parts.append(_bars("PII found by type", {"rows": report["pii"]}))
    if clusters:
        parts.append("<h2>Sample duplicate clusters</h2>")
        for c in clusters:
            parts.append(f"<h3>{escape(c['step'])}: {c['size']} rows repeat {escape(c['kept'])}</h3>")
            parts.append(_table(["row", "reason", "text"], [[m["where"], m["reason"], m["text"]] for m in c["removed"]]))
    if "noise" in report:
        parts.append("<h2>Removal against the injected noise</h2>")
        parts.append(_table(["noise", "planted", "caught", "recall", "precision"],
                            [[k, s["planted"], s["caught"], _pct(s["recall"]), _pct(s["precision"])]
                             for k, s in report["noise"]["by_noise"].items()]))
    if report.get("augmented"):
        parts.append("<h2>Augmentation</h2>" + _table(["method", "outcome", "rows"], [
            [m, k, v] for m, outcomes in report["augmented"].items() for k, v in outcomes.items()]))
    parts.append("</body></html>")
    return "\n".join(parts)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def write_html_report(out_dir: str | Path) -> Path:
    """Write `report.html` beside the `report.json` of the cleaning output in `out_dir`; return its path."""
    out = Path(out_dir)
    try:
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{out} has no report.json", hint="run `lmstack data run <recipe>` into that folder first") from None
    target = out / "report.html"
    with atomic_open(target, "w", encoding="utf-8") as f:
        f.write(render_html(report, dedup_clusters(out, report)))
    return target
