"""The project YAML, as pydantic models: one class per section, a description on every field.

Each step's section lives beside its code (`lmstack/<step>/config.py`); this file assembles them.
The same schema drives validation, `lmstack config schema` (JSON Schema for editors) and the
defaults `lmstack config show` prints. Unknown keys are errors (`extra="forbid"`), so a typo
never silently falls back to a default.

Paths under `data` are relative to the YAML file's folder; `project.run_dir` is relative to the
working directory, like any output folder given on a command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from lmstack.config.base import Language, Section
from lmstack.data.config import DataSection
from lmstack.eval.config import EvalSection
from lmstack.plan.config import PlanSection
from lmstack.serve.bench_config import BenchSection
from lmstack.serve.config import ServeSection
from lmstack.train.config import TrainSection


class ProjectSection(Section):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Project name: letters, digits, '.', '_' or '-'. The run directory is <run_dir>/<name>.",
    )
    description: str = Field("", description="One line on what the project is for; shown in reports.")
    run_dir: Path = Field(Path("runs"), description="Where runs are written, relative to the working directory.")
    seed: int = Field(0, ge=0, description="Seed for everything random in the run: data splits, init, sampling.")
    languages: list[Language] = Field(["zh", "en"], min_length=1, description="Languages the project serves.")


class TokenizerSection(Section):
    path: str | None = Field(
        None, description="An existing tokenizer folder. Default: the model folder's own, or train a new one."
    )
    vocab_size: int = Field(8000, ge=300, le=262144, description="Vocabulary size of a newly trained byte-level BPE.")
    min_frequency: int = Field(2, ge=1, description="Merges seen fewer times than this are not learnt.")


class ModelSection(Section):
    preset: str | None = Field("llama-5m", description="From-scratch preset; `lmstack models presets` lists them.")
    path: str | None = Field(
        None, description="A Hugging Face checkpoint: a local folder (or a hub id where the network allows)."
    )
    tokenizer: TokenizerSection = Field(default_factory=TokenizerSection, description="Tokenizer choice or training.")
    context_length: int = Field(256, ge=16, le=1_048_576, description="Tokens per training sequence and model context.")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N | mps.")
    dtype: Literal["auto", "float32", "fp32", "bfloat16", "bf16", "float16", "fp16"] = Field(
        "auto", description="Parameter dtype. auto: fp32 on CPU (compute in bf16 via autocast), bf16/fp16 on GPU."
    )
    autocast: bool = Field(True, description="Compute in bf16 on CPUs with native bf16 (and on GPUs for fp32 weights).")
    threads: int | Literal["auto"] = Field("auto", description="CPU threads for torch; auto = physical cores.")
    trust_remote_code: bool = Field(
        False, description="Run Python code shipped with a checkpoint. Off: turn on only for checkpoints you trust."
    )

    @field_validator("threads")
    @classmethod
    def _positive_threads(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("threads must be 'auto' or a positive integer")
        return v

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str | None) -> str | None:
        if v is not None:
            from lmstack.errors import UserError
            from lmstack.models.presets import get_preset

            try:
                get_preset(v)
            except UserError as e:  # pydantic reports only ValueErrors as field errors
                raise ValueError(str(e).replace("\n  hint: ", "; ")) from None
        return v

    @model_validator(mode="after")
    def _preset_or_path(self) -> ModelSection:
        if self.path is not None and "preset" not in self.model_fields_set:
            self.__dict__["preset"] = None  # a checkpoint replaces the default preset
        if (self.preset is None) == (self.path is None):
            raise ValueError("give exactly one of model.preset (train from scratch) or model.path (a checkpoint)")
        return self


class ProjectConfig(Section):
    """A whole lmstack project: one file that `lmstack run` takes from scenario to served model."""

    project: ProjectSection = Field(description="Name, run directory, seed, languages.")
    plan: PlanSection = Field(default_factory=PlanSection, description="Step 1: scenario and targets.")
    data: DataSection = Field(default_factory=DataSection, description="Step 2: data sources.")
    model: ModelSection = Field(default_factory=ModelSection, description="Step 3: the model and tokenizer.")
    train: TrainSection = Field(default_factory=TrainSection, description="Step 3: the training recipe.")
    finetune: TrainSection | None = Field(
        None, description="Step 3, second phase (usually recipe sft): continues from the train stage's model; "
                          "eval then compares the two, untuned against fine-tuned."
    )
    eval: EvalSection = Field(default_factory=EvalSection, description="Step 4: evaluation.")
    bench: BenchSection = Field(default_factory=BenchSection, description="Step 4: the served model under load.")
    serve: ServeSection = Field(default_factory=ServeSection, description="Step 5: the OpenAI-compatible server.")

    @property
    def run_root(self) -> Path:
        return self.project.run_dir / self.project.name
