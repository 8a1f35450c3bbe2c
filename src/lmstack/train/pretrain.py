"""Pretrain a causal LM on packed text with the Hugging Face Trainer.

Run it through a project file; the tiny CPU example takes about two minutes:

    lmstack run examples/customer-service/project.yaml

Setup (pack the corpus, hold out a validation share), loop (Trainer: AdamW, warm-up + cosine,
gradient accumulation, bf16 autocast on CPUs that have it, checkpoints every `save_every`
steps), save (safetensors model + tokenizer, metrics, loss curve). A run that was killed
continues from its latest checkpoint.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch.utils.data import Dataset
from transformers import PrinterCallback, Trainer, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

from lmstack.atomic import atomic_path
from lmstack.train.config import TrainSection
from lmstack.report.plots import plot_loss
from lmstack.train.progress import JsonlLog, RichProgress, TimeBudget


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


def _last_logged(history: list[dict], key: str, default: float) -> float:
    """The latest logged value of `key` (the run's mean loss hides where training ended)."""
    return next((row[key] for row in reversed(history) if key in row), default)


def training_arguments(cfg: TrainSection, out_dir: Path, *, seed: int, device: torch.device,
                       bf16: bool, has_validation: bool) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(out_dir / "checkpoints"),
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr,
        lr_scheduler_type=cfg.schedule,
        warmup_steps=int(cfg.warmup_ratio * cfg.max_steps),
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        logging_steps=cfg.log_every,
        eval_strategy="steps" if has_validation else "no",
        eval_steps=cfg.eval_every,
        save_strategy="steps",
        save_steps=cfg.save_every,
        save_total_limit=2,
        bf16=bf16,
        use_cpu=device.type == "cpu",
        report_to="none",
        disable_tqdm=True,
        log_level="warning",
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=0,
    )


def pretrain(model, tokenizer, rows: torch.Tensor, out_dir: Path, cfg: TrainSection, *, seed: int,
             device: torch.device, bf16: bool, validation: torch.Tensor | None = None,
             resume: bool = True) -> dict:
    """Train `model` on packed `rows` (N, T); write `out_dir/model` and return the metrics."""
    out_dir = Path(out_dir)
    if validation is None:
        rows, validation = split_rows(rows, cfg.validation_share, seed)
    args = training_arguments(cfg, out_dir, seed=seed, device=device, bf16=bf16,
                              has_validation=validation is not None)
    tokens_per_step = cfg.batch_size * cfg.grad_accum * rows.shape[1]
    trainer = Trainer(
        model=model, args=args, train_dataset=PackedRows(rows),
        eval_dataset=PackedRows(validation) if validation is not None else None,
        callbacks=[RichProgress(tokens_per_step), JsonlLog(out_dir / "metrics.jsonl"), TimeBudget(cfg.max_minutes)],
    )
    trainer.remove_callback(PrinterCallback)  # the progress bar and metrics.jsonl say it better
    last = get_last_checkpoint(args.output_dir) if resume and Path(args.output_dir).is_dir() else None
    result = trainer.train(resume_from_checkpoint=last)

    metrics = {
        "steps": trainer.state.global_step,
        "train_loss": round(_last_logged(trainer.state.log_history, "loss", result.training_loss), 4),
        "train_tokens": trainer.state.global_step * tokens_per_step,
        "train_seconds": round(result.metrics.get("train_runtime", 0.0), 2),
        "tokens_per_s": round(trainer.state.global_step * tokens_per_step / max(result.metrics.get("train_runtime", 1e-9), 1e-9), 1),
        "resumed_from": last,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    if validation is not None:
        val_loss = trainer.evaluate()["eval_loss"]
        metrics.update(val_loss=round(val_loss, 4), val_perplexity=round(math.exp(min(val_loss, 50)), 3))

    with atomic_path(out_dir / "model") as tmp:
        trainer.model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    plot_loss(out_dir / "metrics.jsonl", out_dir / "loss.png")
    return metrics
