"""The `eval` section of a project (step four)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lmstack.config.base import Section


class EvalSection(Section):
    """Evaluation settings; tasks and metrics are chosen per project."""

    metrics: list[Literal["perplexity", "bleu", "chrf", "rouge", "exact_match", "f1", "accuracy"]] = Field(
        ["perplexity"], description="Metrics computed on the test split."
    )
    batch_size: int = Field(8, ge=1, description="Examples scored or generated at once.")
    max_new_tokens: int = Field(128, ge=1, description="Generation budget per example.")
