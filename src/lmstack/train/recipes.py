"""The recipe table: what each `train.recipe` trains, and on what (the pipeline's train stage reads it).

    >>> RECIPES["sft"].architectures
    ('causal_lm', 'moe')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lmstack.train.config import TrainSection
from lmstack.train.contrastive import contrastive
from lmstack.train.launch import run_distributed
from lmstack.train.moe import moe
from lmstack.train.pretrain import pretrain
from lmstack.train.seq2seq import seq2seq
from lmstack.train.sft import sft


@dataclass(frozen=True)
class Recipe:
    fn: Callable[..., dict]
    """fn(model, tokenizer, data, out_dir, cfg, *, seed, device, bf16, ...) -> metrics, in this process."""
    architectures: tuple[str, ...]
    """Model kinds (preset architectures, `lmstack.models.loading.model_kind`) the recipe can train."""
    inputs: Literal["packed", "files"]
    """packed: a (N, T) tensor of packed corpus tokens; files: the data stage's train/validation files."""

    def train(self, model, tokenizer, data, out_dir: Path, cfg: TrainSection, **kwargs) -> dict:
        """Train `model` in place on `cfg.nproc` processes (the launcher's own when one); the metrics."""
        if cfg.nproc == 1:
            return self.fn(model, tokenizer, data, out_dir, cfg, **kwargs)
        return run_distributed(self.fn, model, tokenizer, data, out_dir, cfg, **kwargs)

    @property
    def generates_text(self) -> bool:
        """Whether the trained model completes prompts (sample_prompts apply)."""
        return set(self.architectures) <= {"causal_lm", "moe"}


RECIPES: dict[str, Recipe] = {
    "pretrain": Recipe(pretrain, ("causal_lm", "moe"), "packed"),
    "sft": Recipe(sft, ("causal_lm", "moe"), "files"),
    "seq2seq": Recipe(seq2seq, ("seq2seq",), "files"),
    "moe": Recipe(moe, ("moe",), "packed"),
    "contrastive": Recipe(contrastive, ("dual_encoder",), "files"),
}
