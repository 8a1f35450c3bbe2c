"""Train a CLIP-style dual encoder (the clip-* presets) on image–caption pairs; report retrieval recall.

Run it through a project file; `train.synthetic_pairs` draws a captioned set with Pillow offline:

    lmstack train project.yaml -o train.recipe=contrastive -o model.preset=clip-2m -o train.synthetic_pairs=2000

Setup (pairs from a jsonl of {image, caption} or a folder of images with .txt captions; pixels
CLIP-normalised; captions end with EOS, where CLIP pools text), loop (HF Trainer; image and text
embeddings L2-normalised, logits = cosine × exp(learnable logit_scale), cross-entropy against the
matching pair in both directions, averaged — the symmetric InfoNCE of Radford et al. 2021, as
CLIPModel's own loss computes it), save (model + tokenizer + image processor, so `CLIPModel.from_pretrained`
and `CLIPProcessor` load it), then zero-shot retrieval on held-out pairs: image→text and
text→image recall@1/5/10 beside their chance levels.

On several processes (`--nproc N`) every caption is contrasted with the images of all processes,
and every image with all captions: the embeddings are all-gathered, gradients flowing back to the
process that made each, so the negatives span the global batch of batch_size × N pairs and the
loss and gradients equal one process's on that whole batch.
Load a trained model for embedding with `lmstack.train.clip_embed.load_clip(path)`.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
# the collective torch.distributed.nn.functional.all_gather's deprecation points to; it carries gradients back
from torch.distributed._functional_collectives import all_gather_single
from torch.utils.data import Dataset
from transformers import CLIPImageProcessorPil

from lmstack.atomic import write_jsonl
from lmstack.errors import UserError
from lmstack.report.plots import plot_loss
from lmstack.train.config import TrainSection
from lmstack.train.fit import fit, save_final
from lmstack.train.image_text import CLIP_MEAN, CLIP_STD, Pair, pixels, read_pairs, synthetic_pairs

RECALL_AT = (1, 5, 10)


class PairRows(Dataset):
    """Caption token ids and image pixels, computed once (small sets; a CPU re-decoding PNGs each epoch is slow)."""

    def __init__(self, pairs: list[Pair], tokenizer, image_size: int, max_length: int):
        eos = tokenizer.eos_token_id
        self.input_ids = [tokenizer(p.caption, add_special_tokens=False, truncation=True,
                                    max_length=max_length - 1)["input_ids"] + [eos] for p in pairs]
        self.pixel_values = [pixels(p.image, image_size) for p in pairs]

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.input_ids[i], "pixel_values": self.pixel_values[i]}


class PairCollator:
    """Pads captions (right, with pad), stacks images; labels are each row's place in the batch (its pair)."""

    def __init__(self, pad_token_id: int):
        self.pad = pad_token_id

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor | bool]:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad, dtype=torch.long)  # (B, T)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r["input_ids"])] = torch.tensor(r["input_ids"])
            mask[i, : len(r["input_ids"])] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": torch.arange(len(rows)),
                "pixel_values": torch.stack([r["pixel_values"] for r in rows])}  # (B, 3, H, W)


class GlobalBatchLoss:
    """Symmetric InfoNCE over the global batch: this process's images against every process's
    captions and its captions against every image (Trainer's `compute_loss_func`).

    Returns the sum over this process's rows ÷ `num_items_in_batch` (the rows of all processes, as
    Trainer counts them), Trainer's contract for losses it then scales to the DDP mean.
    """

    def __init__(self, logit_scale: torch.nn.Parameter):
        self.logit_scale = logit_scale

    def __call__(self, outputs, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
        images, texts = outputs.image_embeds, outputs.text_embeds  # (B, D) each, L2-normalised
        targets = labels  # (B,): row i's pair is column i
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            # accelerate gives every process equal batches (even_batches), so rank r's rows sit at r·B
            targets = labels + dist.get_rank() * images.shape[0]
            world = dist.group.WORLD
            all_images, all_texts = all_gather_single(images, 0, world), all_gather_single(texts, 0, world)  # (W·B, D)
        else:
            all_images, all_texts = images, texts
        scale = self.logit_scale.exp()
        per_row = (F.cross_entropy(scale * images @ all_texts.T, targets, reduction="none")  # image → text
                   + F.cross_entropy(scale * texts @ all_images.T, targets, reduction="none")) / 2  # text → image
        if num_items_in_batch is None:
            return per_row.mean()
        return per_row.sum() / num_items_in_batch


def image_processor(size: int) -> CLIPImageProcessorPil:
    """The processor saved with the model: it prepares images as `pixels` does for training."""
    return CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                                 image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD))


@torch.no_grad()
def embeddings(model, rows: PairRows, batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """L2-normalised (image, text) embeddings of every row, each (N, D)."""
    model.eval()
    collate = PairCollator(model.config.text_config.pad_token_id)
    images, texts = [], []
    for start in range(0, len(rows), batch_size):
        batch = collate([rows[i] for i in range(start, min(start + batch_size, len(rows)))])
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    pixel_values=batch["pixel_values"])
        images.append(out.image_embeds)
        texts.append(out.text_embeds)
    return torch.cat(images), torch.cat(texts)


def recall_at_k(similarity: torch.Tensor, query_keys: list[str], target_keys: list[str],
                ks: tuple[int, ...] = RECALL_AT) -> dict[int, float]:
    """Share of queries (rows) with a target of the same key among their k most similar (columns)."""
    match = torch.tensor([[q == t for t in target_keys] for q in query_keys])  # (Q, T)
    order = similarity.argsort(dim=1, descending=True)  # (Q, T)
    hits = torch.gather(match, 1, order)  # (Q, T): whether the r-th ranked target matches
    return {k: round(hits[:, :k].any(dim=1).float().mean().item(), 4) for k in ks}


def chance_recall(query_keys: list[str], target_keys: list[str], ks: tuple[int, ...] = RECALL_AT) -> dict[int, float]:
    """Expected recall@k of a random ranking: 1 − C(N−m, k)/C(N, k) averaged over queries with m matches."""
    n = len(target_keys)
    out = {}
    for k in ks:
        k_ = min(k, n)
        out[k] = round(sum(1 - math.comb(n - m, k_) / math.comb(n, k_)
                           for m in (sum(q == t for t in target_keys) for q in query_keys)) / len(query_keys), 4)
    return out


def retrieval(model, rows: PairRows, keys: list[str]) -> dict[str, float]:
    """image→text and text→image recall@1/5/10 on `rows`, with chance levels."""
    images, texts = embeddings(model, rows)
    similarity = images @ texts.T  # (N images, N texts)
    metrics = {}
    for name, sim in (("image_to_text", similarity), ("text_to_image", similarity.T)):
        for k, v in recall_at_k(sim, keys, keys).items():
            metrics[f"{name}_recall@{k}"] = v
    for k, v in chance_recall(keys, keys).items():
        metrics[f"chance_recall@{k}"] = v
    return metrics


def contrastive(model, tokenizer, train_files: list[Path], out_dir: Path, cfg: TrainSection, *, seed: int,
                device: torch.device, bf16: bool, max_length: int, validation_files: list[Path] | None = None,
                base_dir: Path | None = None, resume: bool = True) -> dict:
    """Train the dual encoder `model`; write `out_dir/model`; return the metrics with held-out recall.

    Pairs come from `train_files` (jsonl or folders), or `cfg.synthetic_pairs` drawn into
    `out_dir/synthetic`; the held-out pairs from `validation_files`, else `cfg.validation_share`.
    `base_dir` is accepted for the recipes' common signature; a dual encoder trains in full.
    """
    out_dir = Path(out_dir)
    if not hasattr(model.config, "vision_config"):
        raise UserError(f"the contrastive recipe trains image-text dual encoders; this is {type(model).__name__}",
                        hint="pick a clip-* preset (`lmstack models presets`)")
    if cfg.method != "full":
        raise UserError("the contrastive recipe trains every weight", hint="set train.method: full")
    size = model.config.vision_config.image_size
    limit = model.config.text_config.max_position_embeddings
    max_length = min(max_length, limit)  # captions are short; CLIP's text tower has its own, smaller context
    rejects = []
    # Each process draws the same synthetic set (same seed); a node's first keeps it in the run directory,
    # the others draw theirs into scratch space rather than replace the folder while it is read.
    scratch = tempfile.TemporaryDirectory(prefix="lmstack-pairs-") if int(os.environ.get("LOCAL_RANK", 0)) else None
    if cfg.synthetic_pairs:
        pairs = synthetic_pairs(Path(scratch.name) if scratch else out_dir / "synthetic", n=cfg.synthetic_pairs,
                                seed=seed, image_size=size)
    else:
        pairs = []
        for path in train_files:
            found, bad = read_pairs(path)
            pairs, rejects = pairs + found, rejects + bad
    held = []
    if validation_files and not cfg.synthetic_pairs:
        for path in validation_files:
            found, bad = read_pairs(path)
            held, rejects = held + found, rejects + bad
    else:
        n_val = max(1, round(len(pairs) * cfg.validation_share)) if cfg.validation_share > 0 and len(pairs) > 1 else 0
        order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed)).tolist()
        pairs, held = [pairs[i] for i in order[n_val:]], [pairs[i] for i in order[:n_val]]
    write_jsonl(out_dir / "rejects.jsonl", ({"file": r.file, "line": r.line, "reason": r.reason} for r in rejects))
    if len(pairs) < 2:
        shown = "".join(f"\n  {r}" for r in rejects[:10])
        raise UserError(f"{len(pairs)} usable image-caption pairs; contrastive training needs at least two per batch"
                        + shown, hint="list jsonl files of {image, caption} rows under data.train, "
                                      "or set train.synthetic_pairs")
    train = PairRows(pairs, tokenizer, size, max_length)
    validation = PairRows(held, tokenizer, size, max_length) if held else None
    if scratch:
        scratch.cleanup()

    # Held-out recall is measured after training; Trainer's own evaluation has no labels to score.
    trainer, metrics = fit(model, tokenizer, train, None, out_dir, cfg, seed=seed, device=device, bf16=bf16,
                           resume=resume, collator=PairCollator(tokenizer.pad_token_id),
                           compute_loss=GlobalBatchLoss(model.logit_scale))
    metrics.update(train_pairs=len(pairs), validation_pairs=len(held), rejected_rows=len(rejects),
                   logit_scale=round(model.logit_scale.exp().item(), 3))
    if validation is not None:
        metrics.update(retrieval(model, validation, [p.key for p in held]))
    if save_final(trainer, tokenizer, out_dir / "model", image_processor(size)):
        plot_loss(out_dir / "metrics.jsonl", out_dir / "loss.png")
    return metrics
