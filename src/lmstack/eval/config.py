"""The `eval` section of a project (step four)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from lmstack.config.base import Section

ProjectMetric = Literal["perplexity", "bleu", "chrf", "rouge", "exact_match", "f1", "accuracy", "macro_f1", "rubric"]


class EvalSection(Section):
    """Evaluation settings; tasks and metrics are chosen per project."""

    tasks: Path | None = Field(None, description="Tasks YAML for `lmstack eval run` and the eval stage of "
                                                 "`lmstack run` (e.g. eval.yaml beside the project file; relative to "
                                                 "it); none: score `metrics` on the test split.")
    metrics: list[ProjectMetric] = Field(
        ["perplexity"], description="Without eval.tasks: metrics computed on the test split (perplexity on any rows; "
                                    "bleu, chrf, rouge, exact_match, f1 on question/answer rows).")
    batch_size: int = Field(8, ge=1, description="Examples scored or generated at once.")
    max_new_tokens: int = Field(128, ge=1, description="Generation budget per example.")
    max_length: int = Field(1024, ge=2, description="Perplexity and multiple choice: tokens per window.")
    stride: int = Field(512, ge=1, description="Perplexity: tokens between window starts; smaller than max_length "
                                               "so every token keeps some context.")
    concurrency: int = Field(8, ge=1, description="Requests in flight when the model is an endpoint.")
    retries: int = Field(3, ge=0, description="Retries per endpoint request, with exponential back-off.")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="Coverage of reported confidence intervals.")

    @field_validator("tasks", mode="after")
    @classmethod
    def _tasks_relative_to_config(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        base = (info.context or {}).get("base_dir")
        return path if path is None or path.is_absolute() or base is None else Path(base) / path

    @model_validator(mode="after")
    def _stride_below_window(self) -> EvalSection:
        if self.stride >= self.max_length:
            raise ValueError(f"eval.stride ({self.stride}) must be smaller than eval.max_length ({self.max_length})")
        return self
