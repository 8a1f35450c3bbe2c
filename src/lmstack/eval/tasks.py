"""Eval tasks in YAML: a dataset, a prompt template, the generation settings and the metrics.

    tasks:
      - name: answers-zh
        dataset: {path: data/qa/test.jsonl, filter: {lang: zh}, limit: 50}
        prompt: "{{ question }}"
        reference: answer
        chat_template: true
        generation: {max_new_tokens: 64}
        metrics: [bleu, chrf, rouge, f1]
        language: zh

Three kinds: `generate` (the model answers each prompt; metrics compare answers with the
reference field), `perplexity` (the prompt renders the text to score), `multiple_choice`
(`choices` names a list field, `reference` the answer as an index or the option text).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from lmstack.config.base import Language, Section
from lmstack.eval.metrics import METRICS


class GenerationParams(Section):
    """How answers are generated; greedy by default so a rerun gives the same answers."""

    max_new_tokens: int = Field(128, ge=1, description="Most tokens generated per answer.")
    temperature: float = Field(0.0, ge=0.0, description="0 = greedy decoding.")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass (with temperature > 0).")
    stop: list[str] = Field(default_factory=list, description="Strings that end an answer (cut before them).")
    seed: int = Field(0, description="Sampling seed (with temperature > 0).")


class DatasetSpec(Section):
    """Where the examples come from."""

    path: str = Field(description="jsonl, csv, parquet file or a saved Hugging Face dataset folder; "
                                  "relative paths start at the tasks file.")
    split: str | None = Field(None, description="Split of a saved DatasetDict (train, validation, test).")
    filter: dict[str, str | int | float | bool] = Field(default_factory=dict,
                                                        description="Keep only rows whose fields equal these values.")
    limit: int | None = Field(None, ge=1, description="Use the first N rows (after the filter).")
    id_field: str | None = Field(None, description="Field holding a stable example id; default: the row number.")


class Task(Section):
    """One evaluation task."""

    name: str = Field(pattern=r"^[A-Za-z0-9][\w.-]*$", description="Task name; used in file names and tables.")
    kind: Literal["generate", "perplexity", "multiple_choice"] = Field("generate", description="What is measured.")
    dataset: DatasetSpec = Field(description="The examples.")
    prompt: str = Field(description="Jinja template over a row's fields: the prompt, the text to score "
                                    "(perplexity) or the context (multiple choice).")
    reference: str | None = Field(None, description="Field holding the reference answer, label, rubric or "
                                                    "the correct choice.")
    choices: str | None = Field(None, description="multiple_choice: field holding the list of options.")
    chat_template: bool = Field(False, description="Wrap the prompt as a user message in the model's chat template.")
    system: str | None = Field(None, description="System message placed before the prompt (with chat_template).")
    generation: GenerationParams = Field(default_factory=GenerationParams, description="Generation settings.")
    metrics: list[str] = Field(default_factory=list, description=f"generate: metrics from {', '.join(METRICS)}.")
    metric_options: dict[str, dict[str, Any]] = Field(default_factory=dict,
                                                      description="Per-metric options, e.g. {rouge: {tokenizer: char}}.")
    language: Language = Field("en", description="Language of the references: picks tokenizers (zh: BLEU tok zh, "
                                                 "ROUGE jieba).")
    max_length: int = Field(1024, ge=2, description="perplexity / multiple_choice: tokens per window.")
    stride: int = Field(512, ge=1, description="perplexity: tokens between window starts (< max_length).")
    allow_empty_predictions: bool = Field(True, description="Score an empty answer as wrong instead of stopping.")

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str]) -> list[str]:
        unknown = [m for m in value if m not in METRICS]
        if unknown:
            raise ValueError(f"unknown metrics {unknown}; choose from {', '.join(METRICS)}")
        return value

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Task:
        if self.kind == "generate" and not (self.metrics and self.reference):
            raise ValueError("a generate task needs `metrics` and a `reference` field")
        if self.kind == "multiple_choice" and not (self.choices and self.reference):
            raise ValueError("a multiple_choice task needs `choices` and `reference` fields")
        if self.kind == "perplexity" and self.stride >= self.max_length:
            raise ValueError(f"stride ({self.stride}) must be smaller than max_length ({self.max_length})")
        return self


class TaskFile(Section):
    """A tasks YAML file."""

    tasks: list[Task] = Field(min_length=1, description="The tasks, run in order.")

    @field_validator("tasks")
    @classmethod
    def _unique_names(cls, value: list[Task]) -> list[Task]:
        names = [t.name for t in value]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"task names must be unique; repeated: {', '.join(dup)}")
        return value


def load_tasks(path: str | os.PathLike) -> tuple[TaskFile, Path]:
    """The validated tasks file and the folder its relative dataset paths start from."""
    from lmstack.config.loader import read_yaml_file, validate_yaml

    path = Path(path)
    data, lines = read_yaml_file(path, "tasks", hint="see examples/customer-service/eval.yaml",
                                 example="`tasks: [{name: answers, kind: generate, dataset: {path: test.jsonl}, …}]`")
    return validate_yaml(TaskFile, data, str(path), lines, hint="see examples/customer-service/eval.yaml"), path.parent
