"""Supervised fine-tuning on chat data: full, LoRA or QLoRA, loss on the assistant's tokens only.

Run it through a project file (`train.recipe: sft`), e.g. the customer-service example's
`qa/*.jsonl`, whose rows carry OpenAI `messages`:

    lmstack train examples/customer-service/project.yaml -o train.recipe=sft -o train.method=lora

Setup (read messages/alpaca/sharegpt rows, reject what does not fit with file and line, render
with the tokenizer's chat template, mask everything but assistant tokens), loop (HF Trainer, as
pretrain: AdamW, warm-up + decay, checkpoints every `save_every` steps, resume from the latest),
save (the model or its adapters, plus the tokenizer whose chat template the server must use).

Why not TRL's SFTTrainer (trl 1.16): its `assistant_only_loss` needs `{% generation %}` markers
and stops the whole run with a RuntimeError at the first row whose mask is empty (a row cut by
max_length, or every row under a template without markers), inside `datasets.map`, where the
file and line of that row are lost. Here rows are tokenized up front (rejects keep their place in
the file), templates without markers get their mask from prefix renders, and HF's
`DataCollatorForSeq2Seq` pads inputs and labels (-100) — all that SFTTrainer's collator adds.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import DataCollatorForSeq2Seq

from lmstack.atomic import write_jsonl
from lmstack.errors import UserError
from lmstack.models.tokenizer import stop_token_ids
from lmstack.report.plots import plot_loss
from lmstack.train.chat_data import Reject, RowError, no_rows_error, read_chat_files
from lmstack.train.chat_tokens import IGNORE_INDEX, ensure_chat_template, tokenize_conversation
from lmstack.train.config import TrainSection
from lmstack.train.fit import context_length, fit, hold_out, prepare_model, save_final


def tokenize_rows(tokenizer, conversations, origins, max_length: int) -> tuple[list[dict], list[Reject]]:
    """Tokenized rows, and the conversations that left no assistant token (with file and line)."""
    rows, rejects = [], []
    for messages, (file, line) in zip(conversations, origins, strict=True):
        try:
            rows.append(tokenize_conversation(tokenizer, messages, max_length))
        except RowError as e:
            rejects.append(Reject(file, line, str(e)))
    return rows, rejects


def sft(model, tokenizer, train_files: list[Path], out_dir: Path, cfg: TrainSection, *, seed: int,
        device: torch.device, bf16: bool, max_length: int, validation_files: list[Path] | None = None,
        base_dir: Path | None = None, resume: bool = True) -> dict:
    """Fine-tune `model` on the chat rows of `train_files`; write `out_dir/model` and return the metrics.

    `out_dir/model` holds the whole model (method full) or the adapters (lora/qlora; merge them
    with `lmstack export DIR --merge-lora`), and the tokenizer with its chat template. Rows that
    cannot be used are listed in `out_dir/rejects.jsonl`. `base_dir` is the folder `model` was
    loaded from, if any (adapters name it as their base).
    """
    out_dir = Path(out_dir)
    limit = context_length(model)
    if max_length > limit:
        raise UserError(f"sequence length {max_length} is above the model's context of {limit} tokens",
                        hint=f"set model.context_length to {limit} or less")
    ensure_chat_template(tokenizer)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token

    data = read_chat_files(train_files, cfg.data_format)
    train, rejects = tokenize_rows(tokenizer, data.conversations, data.origins, max_length)
    validation, formats = [], dict(data.formats)
    if validation_files:
        held = read_chat_files(validation_files, cfg.data_format)
        validation, val_rejects = tokenize_rows(tokenizer, held.conversations, held.origins, max_length)
        rejects += held.rejects + val_rejects
        formats |= held.formats
    elif train:
        train, validation = hold_out(train, cfg.validation_share, seed)
    all_rejects = data.rejects + rejects
    if not train:
        raise no_rows_error(", ".join(map(str, train_files)), all_rejects)
    write_jsonl(out_dir / "rejects.jsonl", ({"file": r.file, "line": r.line, "reason": r.reason} for r in all_rejects))

    if ends := stop_token_ids(tokenizer):  # saved in generation_config.json: generation stops at the turn's end
        model.generation_config.eos_token_id = ends if len(ends) > 1 else ends[0]
    model = prepare_model(model, cfg, task_type="CAUSAL_LM", out_dir=out_dir, base_dir=base_dir,
                          tokenizer=tokenizer, device=device, seed=seed)
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX)
    trainer, metrics = fit(model, tokenizer, train, validation, out_dir, cfg, seed=seed, device=device,
                                  bf16=bf16, resume=resume, collator=collator)
    metrics.update(method=cfg.method, train_rows=len(train), validation_rows=len(validation),
                   rejected_rows=len(all_rejects), formats=formats)
    if save_final(trainer, tokenizer, out_dir / "model"):
        plot_loss(out_dir / "metrics.jsonl", out_dir / "loss.png")
    return metrics
