"""The `train` section of a project: the recipe and its hyper-parameters (step three)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lmstack.config.base import Section


class TrainSection(Section):
    recipe: Literal["pretrain"] = Field("pretrain", description="Training recipe: pretrain (causal LM on the corpus).")
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
        0.02, ge=0, lt=0.5, description="Share of the packed corpus held out when data.validation is empty."
    )
    sample_prompts: list[str] = Field([], description="Prompts completed greedily after training, as a quick look.")
    sample_max_new_tokens: int = Field(48, ge=1, le=4096, description="Tokens generated per sample prompt.")
