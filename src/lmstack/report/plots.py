"""Plots as PNG files in the run directory, or as base64 PNG text for self-contained HTML reports
(matplotlib, no display needed)."""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lmstack.atomic import atomic_path  # noqa: E402


def plot_loss(metrics_jsonl: Path, out_png: Path) -> Path | None:
    """Training and validation loss against step; None when there is nothing to plot."""
    train, val = [], []
    if not Path(metrics_jsonl).is_file():
        return None
    for line in Path(metrics_jsonl).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if "loss" in row:
            train.append((row["step"], row["loss"]))
        if "eval_loss" in row:
            val.append((row["step"], row["eval_loss"]))
    if not train and not val:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    if train:
        ax.plot(*zip(*train), label="train")
    if val:
        ax.plot(*zip(*val), marker="o", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(out_png)


def png_base64(fig) -> str:
    """The figure as base64 PNG text, for `<img src="data:image/png;base64,…">`; closes the figure."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def cdf_base64(series: Mapping[str, Sequence[float]], *, title: str, xlabel: str = "latency (ms)") -> str:
    """Empirical CDF, one step line per named series (empty series are left out), as base64 PNG."""
    fig, ax = plt.subplots(figsize=(4.8, 3.2), dpi=100)
    for label, values in series.items():
        xs = sorted(values)
        if xs:
            ax.step(xs, [(i + 1) / len(xs) for i in range(len(xs))], where="post", label=label)
    ax.set(xlabel=xlabel, ylabel="share of requests", title=title, ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize="small")
    return png_base64(fig)


@dataclass(frozen=True)
class Panel:
    """One panel of `tradeoff_base64`: points joined in the given order, each with a short label."""

    xlabel: str
    ylabel: str
    xs: Sequence[float]
    ys: Sequence[float]
    labels: Sequence[str]


def tradeoff_base64(panels: Sequence[Panel], *, title: str = "") -> str:
    """Side-by-side panels of labelled points joined by a line (e.g. throughput against latency as the
    load grows), as base64 PNG. Points with a missing or NaN coordinate are left out."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.2), dpi=100, squeeze=False)
    for ax, panel in zip(axes[0], panels):
        points = [(x, y, label) for x, y, label in zip(panel.xs, panel.ys, panel.labels)
                  if x is not None and y is not None and not (math.isnan(x) or math.isnan(y))]
        if points:
            xs, ys, labels = zip(*points)
            ax.plot(xs, ys, marker="o", color="#4c78a8")
            for x, y, label in points:
                ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize="small")
        ax.set(xlabel=panel.xlabel, ylabel=panel.ylabel)
        ax.margins(0.15)  # room for the point labels
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return png_base64(fig)
