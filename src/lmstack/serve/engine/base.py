"""The seam between the HTTP API and whatever generates tokens.

The API speaks text and OpenAI JSON; an engine speaks token ids. The API tokenizes (with the
model's own chat template), fans `n` out into n requests, detokenizes incrementally, checks stop
strings and calls `abort` when one matches or the client goes away. The engine schedules requests
at iteration level (they join and leave the running batch between decode steps), owns the KV
cache, samples, and streams one `TokenEvent` per generated token. So the API is tested against a
fake engine and an engine is tested without HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

FinishReason = Literal["stop", "length", "abort"]
# An aborted request's last event carries no token: its token_id is this.
ABORT_TOKEN_ID = -1


class TokenConstraint(Protocol):
    """Which tokens one request may generate next (e.g. `json_constraint.JsonObjectConstraint`).

    The engine calls `allowed` for the request's row each step, masks every other token to -inf
    before temperature, top-k and top-p, samples, then calls `advance` with the chosen token. An
    exception from either ends that request alone (finish_reason 'abort'), never the batch.
    """

    def allowed(self, logits: torch.Tensor, remaining: int) -> torch.Tensor:
        """Ids (1-D long tensor, non-empty) the next token may take. logits (V,) are the row's
        logits after penalties and logit_bias; remaining counts the tokens the request may still
        generate, this one included."""
        ...

    def advance(self, token_id: int) -> None: ...


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
    # A factory, not a constraint: each engine request gets a fresh one (n choices share params).
    constraint: Callable[[], TokenConstraint] | None = None


@dataclass(frozen=True)
class GenerationRequest:
    request_id: str
    prompt_token_ids: list[int]
    params: SamplingParams


@dataclass(frozen=True)
class TokenEvent:
    """One generated token. The last event of a request carries its finish_reason.

    An 'abort' event carries no token: its token_id is ABORT_TOKEN_ID (-1) and it does not count in
    completion_tokens. queue_time_s is set on a request's first event only: seconds from
    `generate()` to the first engine step that scheduled the request (None where the engine cannot
    tell).
    """

    request_id: str
    token_id: int
    logprob: float | None = None
    top_logprobs: dict[int, float] | None = None
    finish_reason: FinishReason | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    queue_time_s: float | None = None


@dataclass(frozen=True)
class EngineStats:
    running: int
    waiting: int
    kv_cache_usage: float  # 0..1 of the cache the engine owns


class QueueFull(Exception):
    """The engine's waiting queue is at its bound: the API answers 429 with Retry-After."""


class EngineShuttingDown(Exception):
    """The engine is draining: the API answers 503."""


def check_prompt(prompt: Sequence[int], max_context: int) -> None:
    """A causal LM's prompt: not empty, and short enough to leave room for one generated token."""
    if not prompt:
        raise ValueError("the prompt has no tokens")
    if len(prompt) >= max_context:
        raise ValueError(f"the prompt has {len(prompt)} tokens; this engine's context holds {max_context}, "
                         "prompt and at least one generated token")


def check_request(what: str, ids: Sequence[int], params: SamplingParams, vocab_size: int) -> None:
    """The checks every request passes before an engine queues it (a bad id would fail the whole step,
    and with it every request in the batch)."""
    if params.max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    for name, values in ((what, ids), ("logit_bias", params.logit_bias)):
        if not all(0 <= t < vocab_size for t in values):
            raise ValueError(f"the {name} has token ids outside the model's vocabulary of {vocab_size}")
    if params.logprobs is not None and not 0 <= params.logprobs <= vocab_size:
        raise ValueError(f"logprobs must be between 0 and the vocabulary size {vocab_size}")


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
