"""Which models a server serves, by the name a request gives in `model`.

A generator is an `Engine` (token ids in, token ids out) plus the tokenizer whose chat template and
vocabulary the API uses around it, and its kind: "causal" (a decoder-only LM continues the prompt)
or "seq2seq" (an encoder-decoder model reads the prompt as its source and writes a target; see
`lmstack.serve.api.generation`). An embedder is anything with `embed(texts)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from lmstack.serve.engine.base import Engine
from lmstack.serve.errors import APIError


@runtime_checkable
class EmbeddingModel(Protocol):
    max_input_tokens: int

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text."""
        ...

    def count_tokens(self, texts: list[str]) -> int:
        """Tokens the texts take, for `usage`."""
        ...


GeneratorKind = Literal["causal", "seq2seq"]


@dataclass
class ServedModel:
    name: str
    engine: Engine
    tokenizer: Any  # a transformers tokenizer: encode/decode/apply_chat_template/convert_ids_to_tokens
    kind: GeneratorKind = "causal"


@dataclass
class ModelRegistry:
    generators: dict[str, ServedModel] = field(default_factory=dict)
    embedders: dict[str, EmbeddingModel] = field(default_factory=dict)

    def add_generator(self, name: str, engine: Engine, tokenizer: Any, kind: GeneratorKind = "causal") -> None:
        self._check_free(name)
        self.generators[name] = ServedModel(name, engine, tokenizer, kind)

    def add_embedder(self, name: str, model: EmbeddingModel) -> None:
        self._check_free(name)
        self.embedders[name] = model

    def generator(self, name: str) -> ServedModel:
        try:
            return self.generators[name]
        except KeyError:
            raise APIError(404, f"the model '{name}' does not exist or is not a text generator; "
                                f"see /v1/models", param="model", code="model_not_found") from None

    def embedder(self, name: str) -> EmbeddingModel:
        try:
            return self.embedders[name]
        except KeyError:
            raise APIError(404, f"the model '{name}' does not exist or is not an embedding model; "
                                f"see /v1/models", param="model", code="model_not_found") from None

    def engines(self) -> Iterator[Engine]:
        return (m.engine for m in self.generators.values())

    def _check_free(self, name: str) -> None:
        if name in self.generators or name in self.embedders:
            raise ValueError(f"two models are named {name!r}")
