"""The `augment:` section of a cleaning recipe."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lmstack.data.augment.eda import METHODS

Method = Literal["synonym", "insert", "swap", "delete"]


class AugmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    methods: list[Method] = Field(list(METHODS), min_length=1, description="EDA operations to apply, each making its own copy of a row.")
    alpha: float = Field(0.1, gt=0, le=0.5, description="Share of a text's words each operation changes (Wei & Zou: about 0.1).")
    per_row: int = Field(1, ge=1, le=16, description="Copies per method and source row.")
    seed: int = Field(0, description="The same seed gives the same augmented rows.")
    texts: Literal["first", "all"] = Field("first", description="first: change only the first message (the user's question); all: every text.")
    min_similarity: float = Field(0.5, ge=0, le=1, description="Character-bigram Jaccard with the source below which a copy is dropped (its meaning may have changed).")
    max_similarity: float = Field(0.95, ge=0, le=1, description="Similarity above which a copy is dropped (it adds nothing).")

    @model_validator(mode="after")
    def _bounds(self) -> AugmentConfig:
        if self.min_similarity >= self.max_similarity:
            raise ValueError(f"min_similarity {self.min_similarity} must be below max_similarity {self.max_similarity}")
        return self

    @property
    def method_set(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.methods))
