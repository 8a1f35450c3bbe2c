"""Pieces every fine-tuning recipe shares: adapters or not, a held-out split, and the Trainer run."""

from __future__ import annotations

import math
import os
import random
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

from lmstack.atomic import atomic_path
from lmstack.train.adapters import add_adapters, quantized, require_qlora
from lmstack.train.config import TrainSection
from lmstack.train.logs import metric_loggers
from lmstack.train.progress import JsonlLog, RichProgress, TimeBudget, last_logged

def training_arguments(cfg: TrainSection, out_dir: Path, *, seed: int, device: torch.device,
                       bf16: bool, has_validation: bool) -> TrainingArguments:
    """Trainer settings from the train section. Under torchrun (WORLD_SIZE > 1) the Trainer runs DDP
    itself, over gloo on CPUs and NCCL on GPUs, or FSDP on GPUs with `train.distributed: fsdp`; with several
    nodes each keeps its own checkpoints (`save_on_each_node`), as each has its own run directory."""
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    distributed = {}
    if world_size > 1:
        distributed = {"ddp_backend": "gloo" if device.type == "cpu" else "nccl", "ddp_find_unused_parameters": False,
                       "save_on_each_node": world_size > int(os.environ.get("LOCAL_WORLD_SIZE", 1)),
                       # HF's FSDP defaults fit: FSDP2, every decoder layer (the model's `_no_split_modules`)
                       # sharded, the full weights gathered to save
                       "fsdp": cfg.distributed == "fsdp"}
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
        report_to="none",  # the loggers are added as callbacks, so that their folders are ours
        disable_tqdm=True,
        log_level="warning",
        seed=seed,
        data_seed=seed,
        dataloader_num_workers=0,
        torch_compile=cfg.compile,
        **distributed,
    )


def context_length(model) -> int:
    """Positions the model can attend over."""
    return model.config.get_text_config().max_position_embeddings


def trainable_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def prepare_model(model, cfg: TrainSection, *, task_type: str, out_dir: Path, base_dir: Path | None,
                  tokenizer, device: torch.device, seed: int = 0):
    """The model to train for `cfg.method`: itself (full), or a frozen (4-bit for qlora) base with adapters.

    Adapters record the folder of their base; a model built in memory is saved to `out_dir/base` first.
    """
    if cfg.method == "full":
        return model
    if cfg.method == "qlora":
        require_qlora(device)
    if base_dir is None:
        base_dir = save_base(model, tokenizer, out_dir)
    if cfg.method == "qlora":
        model = quantized(base_dir, type(model), device)
    return add_adapters(model, cfg.lora, task_type=task_type, base_dir=base_dir, seed=seed)


def save_base(model, tokenizer, out_dir: Path) -> Path:
    """`out_dir/base`: the model adapters are trained on, saved unless already there (their merge target)."""
    base_dir = Path(out_dir) / "base"
    if not (base_dir / "config.json").is_file():
        with atomic_path(base_dir) as tmp:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
    return base_dir


def fit(model, tokenizer, train, validation, out_dir: Path, cfg: TrainSection, *, seed: int,
        device: torch.device, bf16: bool, resume: bool, collator=None, compute_loss=None,
        callbacks: Sequence[TrainerCallback] = ()) -> tuple[Trainer, dict]:
    """Run HF Trainer on tokenized rows (dicts of input_ids and labels), resuming from the latest
    checkpoint when asked; the trainer and its summary metrics.

    `compute_loss(outputs, labels, num_items_in_batch)` replaces the model's own loss (Trainer's
    `compute_loss_func`). `callbacks` run before the metrics log, so values they add to a log row are
    written with it.
    Tokens count both sides of an encoder-decoder's rows, and the rows of every process.
    """
    args = training_arguments(cfg, out_dir, seed=seed, device=device, bf16=bf16, has_validation=bool(validation))
    args.label_names = ["labels"]  # a PEFT wrapper hides the forward signature Trainer reads them from
    sides = ("input_ids", "labels") if model.config.is_encoder_decoder else ("input_ids",)
    mean_len = sum(len(train[i][side]) for i in range(len(train)) for side in sides) / len(train)
    tokens_per_step = round(cfg.batch_size * cfg.grad_accum * args.world_size * mean_len)
    trainer = Trainer(
        model=model, args=args, train_dataset=train, eval_dataset=validation or None, data_collator=collator,
        compute_loss_func=compute_loss,
        processing_class=tokenizer,  # checkpoints carry the tokenizer and its chat template
        callbacks=[*callbacks, RichProgress(tokens_per_step), JsonlLog(out_dir / "metrics.jsonl"),
                   *metric_loggers(cfg, out_dir), TimeBudget(cfg.max_minutes)],
    )
    trainer.remove_callback(PrinterCallback)
    last = get_last_checkpoint(args.output_dir) if resume and Path(args.output_dir).is_dir() else None
    result = trainer.train(resume_from_checkpoint=last)
    seconds = result.metrics.get("train_runtime", 0.0)
    metrics = {
        "steps": trainer.state.global_step,
        "train_loss": round(last_logged(trainer.state.log_history, "loss", result.training_loss), 4),
        "train_tokens": trainer.state.global_step * tokens_per_step,
        "train_seconds": round(seconds, 2),
        "tokens_per_s": round(trainer.state.global_step * tokens_per_step / max(seconds, 1e-9), 1),
        "resumed_from": last,
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable_parameters": trainable_parameters(model),
    }
    if validation:
        val_loss = trainer.evaluate()["eval_loss"]
        metrics.update(val_loss=round(val_loss, 4), val_perplexity=round(math.exp(min(val_loss, 50)), 3))
    return trainer, metrics


def save_final(trainer: Trainer, tokenizer, path: Path, *extras) -> bool:
    """Write the trained model, tokenizer and `extras` (anything with `save_pretrained`) to `path`
    atomically from the process that saves (rank 0); whether this process wrote.

    Every process calls it: under FSDP or DeepSpeed ZeRO-3 gathering the full weights takes all of them.
    """
    state = None
    if trainer.is_fsdp_enabled:
        state = trainer.accelerator.get_state_dict(trainer.model)
    elif trainer.is_deepspeed_enabled:  # (accelerate launch with a DeepSpeed config) the engine gathers
        state = trainer.accelerator.get_state_dict(trainer.model_wrapped)
    if not trainer.args.should_save:
        return False
    with atomic_path(path) as tmp:
        trainer.accelerator.unwrap_model(trainer.model).save_pretrained(tmp, state_dict=state)
        for part in (tokenizer, *extras):
            part.save_pretrained(tmp)
    return True


def hold_out(rows: list, share: float, seed: int) -> tuple[list, list]:
    """(train, validation): `share` of the rows (at least one when share > 0 and rows > 1) held out."""
    n_val = min(len(rows) - 1, max(1, round(len(rows) * share))) if share > 0 and len(rows) > 1 else 0
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    return [rows[i] for i in order[n_val:]], [rows[i] for i in order[:n_val]]
