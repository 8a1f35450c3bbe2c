"""Plots written as PNG files into the run directory (matplotlib, no display needed)."""

from __future__ import annotations

import json
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
