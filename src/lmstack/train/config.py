"""The `train` section of a project: the recipe and its hyper-parameters (step three)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lmstack.config.base import Section


class LoraSection(Section):
    """Low-rank adapters (PEFT LoRA) for `method: lora | qlora`."""

    r: int = Field(8, ge=1, le=1024, description="Rank of each adapter's low-rank update.")
    alpha: float = Field(16, gt=0, description="Scale of the update: the adapter output is multiplied by alpha / r.")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the adapter's input.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear",
        description="Module names to adapt (the last part of the name, e.g. [q_proj, v_proj]), "
                    "or all-linear: every linear layer but the output head.",
    )


class TrainSection(Section):
    recipe: Literal["pretrain", "sft", "seq2seq", "moe", "contrastive"] = Field(
        "pretrain",
        description="Training recipe: pretrain (causal LM on the corpus), sft (chat fine-tuning on "
                    "messages/alpaca/sharegpt rows, loss on assistant tokens), seq2seq (encoder-decoder "
                    "on source → target pairs), moe (pretrain a mixture-of-experts preset with the router "
                    "load-balancing loss, logging each expert's token share), contrastive (CLIP-style "
                    "image-text dual encoder, symmetric InfoNCE).",
    )
    max_steps: int = Field(300, ge=1, description="Optimizer steps to run.")
    max_minutes: float | None = Field(None, gt=0, description="Stop (and save) after this many minutes of training.")
    batch_size: int = Field(16, ge=1, description="Sequences per step on each device, before accumulation.")
    grad_accum: int = Field(1, ge=1, description="Steps whose gradients are summed before each optimizer update.")
    lr: float = Field(3e-3, gt=0, lt=1, description="Peak learning rate.")
    schedule: Literal["cosine", "linear", "constant"] = Field("cosine", description="Learning-rate decay after warm-up.")
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Share of max_steps spent warming the rate up from 0.")
    weight_decay: float = Field(0.1, ge=0, description="AdamW decoupled weight decay.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradients are clipped to this global norm.")
    log_every: int = Field(10, ge=1, description="Steps between logged training losses.")
    eval_every: int = Field(100, ge=1, description="Steps between held-out loss evaluations.")
    save_every: int = Field(100, ge=1, description="Steps between checkpoints (`--resume` continues from the latest).")
    validation_share: float = Field(
        0.02, ge=0, lt=0.5,
        description="Share of the training rows (pretrain: packed sequences) held out when data.validation is empty.",
    )
    sources: list[Literal["corpus", "train"]] = Field(
        ["corpus", "train"], min_length=1,
        description="pretrain/moe: the data roles packed into training text (corpus: unlabelled domain text; "
                    "train: the labelled rows, as question+answer or chat text).",
    )
    sample_prompts: list[str] = Field([], description="Prompts completed greedily after training, as a quick look.")
    sample_max_new_tokens: int = Field(48, ge=1, le=4096, description="Tokens generated per sample prompt.")
    method: Literal["full", "lora", "qlora"] = Field(
        "full",
        description="sft/seq2seq: full (every weight trains), lora (PEFT adapters on a frozen model) or "
                    "qlora (adapters on a 4-bit model; needs a CUDA GPU and bitsandbytes).",
    )
    lora: LoraSection = Field(default_factory=LoraSection, description="Adapter settings for method lora/qlora.")
    data_format: Literal["auto", "messages", "alpaca", "sharegpt"] = Field(
        "auto",
        description="sft: row format of the chat files. auto detects it per file: messages (OpenAI "
                    "role/content list), alpaca (instruction/input/output), sharegpt (conversations of from/value).",
    )
    source_field: str = Field("question", min_length=1, description="seq2seq: the jsonl field read as the source text.")
    target_field: str = Field("answer", min_length=1, description="seq2seq: the jsonl field read as the target text.")
    generation_examples: int = Field(
        8, ge=0, le=10000,
        description="seq2seq: validation sources translated greedily after training, written to generations.jsonl "
                    "and scored with BLEU.",
    )
    moe_collapse_share: float = Field(
        0.5, gt=0, le=1,
        description="moe: warn when one expert receives more than this share of the tokens (a token counts "
                    "for each of its top-k experts, so an even spread gives every expert top_k / experts).",
    )
    synthetic_pairs: int = Field(
        0, ge=0, le=1_000_000,
        description="contrastive: draw this many synthetic image-caption pairs (shapes, colours, positions, "
                    "counts; English and Chinese captions) and train on them instead of data.train.",
    )
    nproc: int = Field(
        1, ge=1, le=1024,
        description="Training processes on this machine (`lmstack train --nproc N`); more than one trains "
                    "data-parallel through torchrun, each process on batch_size rows (gloo on CPUs, NCCL on GPUs).",
    )
    distributed: Literal["ddp", "fsdp"] = Field(
        "ddp",
        description="With nproc > 1: ddp (every process holds the whole model; gradients are averaged) or "
                    "fsdp (weights, gradients and optimizer state sharded across the processes; GPUs only).",
    )
    compile: bool = Field(
        False,
        description="Compile the model with torch.compile (inductor) before training: fused element-wise "
                    "kernels, after a compilation of a minute or more at the start (needs a C++ compiler on CPUs).",
    )
    mlflow: bool = Field(
        False,
        description="Also log metrics and parameters to MLflow (needs the mlflow package; MLFLOW_TRACKING_URI "
                    "and MLFLOW_EXPERIMENT_NAME choose where).",
    )
