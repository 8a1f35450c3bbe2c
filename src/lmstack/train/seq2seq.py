"""Train an encoder-decoder (the seq2seq-* presets, MarianMT) on (source, target) text pairs.

Run it through a project file, e.g. question → answer on the customer-service example:

    lmstack train examples/customer-service/project.yaml -o train.recipe=seq2seq -o model.preset=seq2seq-2m

Setup (read pairs from jsonl with configurable field names; each side ends with EOS so the
decoder learns to stop), loop (HF Trainer with the same schedule, checkpoints and resume as the
other recipes; full or LoRA), save (model + tokenizer), then greedy generation on the first
validation sources, written to `generations.jsonl` and scored with BLEU.
"""

from __future__ import annotations

import re
from pathlib import Path

import sacrebleu
import torch
from transformers import DataCollatorForSeq2Seq

from lmstack.atomic import write_jsonl
from lmstack.errors import UserError
from lmstack.report.plots import plot_loss
from lmstack.train.chat_tokens import IGNORE_INDEX
from lmstack.train.config import TrainSection
from lmstack.train.fit import context_length, fit, hold_out, prepare_model, save_final
from lmstack.train.pair_data import read_pairs

_CJK = re.compile(r"[\u4e00-\u9fff]")


def encode(tokenizer, text: str, max_length: int) -> list[int]:
    """Token ids of `text`, cut to `max_length` with EOS last (the decoder learns to stop on it)."""
    ids = tokenizer(text, add_special_tokens=False, truncation=True, max_length=max_length - 1)["input_ids"]
    return ids + [tokenizer.eos_token_id]


def encode_pair(tokenizer, source: str, target: str, max_length: int) -> dict[str, list[int]]:
    """Encoder input_ids and decoder labels (the model shifts labels right behind decoder_start)."""
    return {"input_ids": encode(tokenizer, source, max_length), "labels": encode(tokenizer, target, max_length)}


def bleu(hypotheses: list[str], references: list[str]) -> float:
    """Corpus BLEU; sacrebleu's zh tokenizer splits Chinese characters and tokenizes the rest as 13a."""
    tokenize = "zh" if any(_CJK.search(r) for r in references) else "13a"
    return round(sacrebleu.corpus_bleu(hypotheses, [references], tokenize=tokenize).score, 2)


@torch.no_grad()
def generate_targets(model, tokenizer, sources: list[str], *, max_length: int, max_new_tokens: int,
                     batch_size: int) -> list[str]:
    """Greedy decodes of `sources`, in order."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(sources), batch_size):
        rows = [{"input_ids": encode(tokenizer, s, max_length)} for s in sources[i: i + batch_size]]
        batch = tokenizer.pad(rows, return_tensors="pt").to(device)
        generated = model.generate(**batch, do_sample=False, num_beams=1, max_new_tokens=max_new_tokens)  # (B, T)
        out += tokenizer.batch_decode(generated, skip_special_tokens=True)
    return out


def seq2seq(model, tokenizer, train_files: list[Path], out_dir: Path, cfg: TrainSection, *, seed: int,
            device: torch.device, bf16: bool, max_length: int, validation_files: list[Path] | None = None,
            base_dir: Path | None = None, resume: bool = True) -> dict:
    """Train `model` on the pairs of `train_files`; write `out_dir/model`, `generations.jsonl`; return metrics."""
    out_dir = Path(out_dir)
    if not model.config.is_encoder_decoder:
        raise UserError(f"the seq2seq recipe trains encoder-decoder models; this one is {type(model).__name__}",
                        hint="pick a seq2seq-* preset (`lmstack models presets`), or train.recipe: sft for a causal LM")
    limit = context_length(model)
    if max_length > limit:
        raise UserError(f"sequence length {max_length} is above the model's context of {limit} tokens",
                        hint=f"set model.context_length to {limit} or less")
    if tokenizer.eos_token_id is None or tokenizer.pad_token_id is None:
        raise UserError("the tokenizer needs EOS and padding tokens for seq2seq training",
                        hint="train one with `lmstack tokenizer train` (it has both)")
    fields = {"source_field": cfg.source_field, "target_field": cfg.target_field}
    data = read_pairs(train_files, **fields)
    pairs, rejects = data.pairs, list(data.rejects)
    if validation_files:
        held = read_pairs(validation_files, **fields)
        val_pairs, rejects = held.pairs, rejects + held.rejects
    else:
        pairs, val_pairs = hold_out(pairs, cfg.validation_share, seed)
    write_jsonl(out_dir / "rejects.jsonl", ({"file": r.file, "line": r.line, "reason": r.reason} for r in rejects))
    train = [encode_pair(tokenizer, s, t, max_length) for s, t in pairs]
    validation = [encode_pair(tokenizer, s, t, max_length) for s, t in val_pairs]

    model = prepare_model(model, cfg, task_type="SEQ_2_SEQ_LM", out_dir=out_dir, base_dir=base_dir,
                          tokenizer=tokenizer, device=device, seed=seed)
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX)
    trainer, metrics = fit(model, tokenizer, train, validation, out_dir, cfg, seed=seed, device=device, bf16=bf16,
                           resume=resume, collator=collator)
    metrics.update(method=cfg.method, train_rows=len(train), validation_rows=len(validation),
                   rejected_rows=len(rejects))
    wrote = save_final(trainer, tokenizer, out_dir / "model")
    shown = val_pairs[: cfg.generation_examples]
    # every process generates: a sharded (FSDP) model's forward needs them all
    generations = generate_targets(trainer.model, tokenizer, [s for s, _ in shown], max_length=max_length,
                                   max_new_tokens=cfg.sample_max_new_tokens, batch_size=cfg.batch_size)
    if not wrote:
        return metrics
    plot_loss(out_dir / "metrics.jsonl", out_dir / "loss.png")
    write_jsonl(out_dir / "generations.jsonl", ({"source": s, "reference": t, "generation": g}
                                                for (s, t), g in zip(shown, generations, strict=True)))
    if shown:
        metrics["bleu"] = bleu(generations, [t for _, t in shown])
    return metrics
