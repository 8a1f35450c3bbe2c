"""Pretrain a causal LM on packed text with the Hugging Face Trainer.

Run it through a project file; the tiny CPU example takes about two minutes:

    lmstack run examples/customer-service/project.yaml

Setup (pack the corpus, hold out a validation share), loop (Trainer: AdamW, warm-up + cosine,
gradient accumulation, bf16 autocast on CPUs that have it, checkpoints every `save_every`
steps), save (safetensors model + tokenizer, metrics, loss curve). A run that was killed
continues from its latest checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset
from transformers import TrainerCallback

from lmstack.report.plots import plot_loss
from lmstack.train.config import TrainSection
from lmstack.train.fit import fit, save_final


class PackedRows(Dataset):
    """Rows of a packed (N, T) token tensor; labels are the inputs (the model shifts them)."""

    def __init__(self, rows: torch.Tensor):
        self.rows = rows

    def __len__(self) -> int:
        return self.rows.shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.rows[i], "labels": self.rows[i]}


def split_rows(rows: torch.Tensor, share: float, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Hold out `share` of packed rows (at least one when share > 0) for validation."""
    n_val = min(len(rows) - 1, max(1, round(len(rows) * share))) if share > 0 and len(rows) > 1 else 0
    perm = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed))
    return rows[perm[n_val:]], (rows[perm[:n_val]] if n_val else None)


def pretrain(model, tokenizer, rows: torch.Tensor, out_dir: Path, cfg: TrainSection, *, seed: int,
             device: torch.device, bf16: bool, validation: torch.Tensor | None = None,
             resume: bool = True, callbacks: Sequence[TrainerCallback] = ()) -> dict:
    """Train `model` on packed `rows` (N, T); write `out_dir/model` and return the metrics.

    `callbacks` join the Trainer's own (a step timer, an early stop).
    """
    out_dir = Path(out_dir)
    if validation is None:
        rows, validation = split_rows(rows, cfg.validation_share, seed)
    held_out = PackedRows(validation) if validation is not None else None
    trainer, metrics = fit(model, tokenizer, PackedRows(rows), held_out, out_dir, cfg, seed=seed, device=device,
                           bf16=bf16, resume=resume, callbacks=callbacks)
    if save_final(trainer, tokenizer, out_dir / "model"):
        plot_loss(out_dir / "metrics.jsonl", out_dir / "loss.png")
    return metrics
