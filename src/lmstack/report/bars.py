"""Grouped bar charts: one group per measure, one bar per model (e.g. base against fine-tuned)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lmstack.report.plots import png_base64  # noqa: E402


def grouped_bars_base64(values: Mapping[str, Mapping[str, float]], *, title: str = "", ylabel: str = "") -> str:
    """`values[model][measure]` as grouped bars (base64 PNG); measures missing for a model are left out."""
    models = list(values)
    measures = list(dict.fromkeys(m for scores in values.values() for m in scores))
    width = 0.8 / max(1, len(models))
    fig, ax = plt.subplots(figsize=(max(4.8, 1.1 * len(measures) + 2), 3.2), dpi=100)
    for i, model in enumerate(models):
        xs = [j + (i - (len(models) - 1) / 2) * width for j, m in enumerate(measures) if m in values[model]]
        ys = [values[model][m] for m in measures if m in values[model]]
        bars = ax.bar(xs, ys, width, label=model)
        ax.bar_label(bars, fmt="%.3g", fontsize="x-small")
    ax.set_xticks(range(len(measures)), measures, rotation=20, ha="right", fontsize="small")
    ax.set(ylabel=ylabel, title=title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small")
    return png_base64(fig)
