"""The seam between the HTTP API and whatever generates tokens.

The API speaks text and OpenAI JSON; an engine speaks token ids. The API tokenizes (with the
model's own chat template), fans `n` out into n requests, detokenizes incrementally, checks stop
strings and calls `abort` when one matches or the client goes away. The engine schedules requests
at iteration level (they join and leave the running batch between decode steps), owns the KV
cache, samples, and streams one `TokenEvent` per generated token. So the API is tested against a
fake engine and an engine is tested without HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

FinishReason = Literal["stop", "length", "abort"]


@dataclass(frozen=True)
class SamplingParams:
    """How to pick each next token. temperature 0 is greedy; seed makes sampling reproducible."""

    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: dict[int, float] = field(default_factory=dict)
    logprobs: int | None = None  # None = off; k = the chosen token's logprob plus the top k
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False


@dataclass(frozen=True)
class GenerationRequest:
    request_id: str
    prompt_token_ids: list[int]
    params: SamplingParams


@dataclass(frozen=True)
class TokenEvent:
    """One generated token. The last event of a request carries its finish_reason."""

    request_id: str
    token_id: int
    logprob: float | None = None
    top_logprobs: dict[int, float] | None = None
    finish_reason: FinishReason | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class EngineStats:
    running: int
    waiting: int
    kv_cache_usage: float  # 0..1 of the cache the engine owns


class QueueFull(Exception):
    """The engine's waiting queue is at its bound: the API answers 429 with Retry-After."""


class EngineShuttingDown(Exception):
    """The engine is draining: the API answers 503."""


@runtime_checkable
class Engine(Protocol):
    model_name: str
    max_context: int  # prompt + generated tokens a request may reach

    async def start(self) -> None: ...

    def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        """Stream the request's tokens. Raises QueueFull / EngineShuttingDown before the first one."""
        ...

    async def abort(self, request_id: str) -> None:
        """Stop a request now and free its KV cache; its stream ends with finish_reason 'abort'."""
        ...

    def stats(self) -> EngineStats: ...

    async def shutdown(self, drain_timeout_s: float = 30.0) -> None:
        """Refuse new requests, let running ones finish for up to drain_timeout_s, then abort the rest."""
        ...
