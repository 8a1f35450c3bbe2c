"""The `data` section of a project: where the text comes from (step two)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from lmstack.config.base import Section


class ExampleData(Section):
    name: Literal["customer-service", "image-text"] = Field(
        description="Which built-in example data set to generate: customer-service (bilingual bank questions, "
                    "answers and a domain corpus) or image-text (synthetic captioned images)."
    )
    seed: int = Field(0, ge=0, description="Generator seed: the same seed gives byte-identical files.")
    scale: float = Field(1.0, gt=0, le=20, description="Multiplies the number of rows (questions and paragraphs, or image-caption pairs).")


class DataSection(Section):
    example: ExampleData | None = Field(None, description="Generate a built-in example data set instead of reading files.")
    corpus: list[Path] = Field(
        [], description="Unlabelled text for tokenizer training and pretraining: .txt (a document per line) or .jsonl."
    )
    train: list[Path] = Field([], description="Labelled training rows (.jsonl): question/answer or chat `messages`.")
    validation: list[Path] = Field([], description="Held-out rows for validation loss and model selection.")
    test: list[Path] = Field([], description="Held-out rows for the final evaluation only.")
    text_field: str = Field("text", min_length=1, description="Field holding the text in .jsonl corpus files.")
    recipe: Path | None = Field(
        None, description="A cleaning recipe YAML (`lmstack data ops` lists its operators); the data stage runs it "
                          "before training. See examples/customer-service/clean.yaml.")

    @field_validator("corpus", "train", "validation", "test", mode="after")
    @classmethod
    def _relative_to_config(cls, paths: list[Path], info: ValidationInfo) -> list[Path]:
        base = (info.context or {}).get("base_dir")
        return [p if p.is_absolute() or base is None else Path(base) / p for p in paths]

    @field_validator("recipe", mode="after")
    @classmethod
    def _recipe_relative_to_config(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        base = (info.context or {}).get("base_dir")
        return path if path is None or path.is_absolute() or base is None else Path(base) / path
