"""A fake engine for testing the API without a model: deterministic tokens, optional delays.

    >>> engine = FakeEngine(vocab_size=512, reply_ids=[40, 41, 42])
    >>> engine.model_name, engine.max_context
    ('fake', 256)

Greedy requests (temperature 0) get the same tokens for the same prompt; sampled ones depend on the
seed too, so a seed reproduces its output and two seeds differ. `reply_ids` replaces that with a
fixed reply (it ends with finish_reason "stop" when it fits in max_tokens).

A request's `SamplingParams.constraint` is honoured as the real engine does: each planned token is
ranked first, the constraint's allowed ids replace it when it is not among them, the reply runs on
(past the planned one if need be) until a stop token or max_tokens, and a constraint that raises
ends the request with 'abort'. The first event reports a queue time of 0.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import torch

from lmstack.serve.engine.base import (
    ABORT_TOKEN_ID,
    EngineShuttingDown,
    EngineStats,
    GenerationRequest,
    QueueFull,
    TokenEvent,
)

FIRST_TEXT_ID = 4  # ids below are special tokens in lmstack's tokenizers


class FakeEngine:
    def __init__(self, model_name: str = "fake", *, vocab_size: int = 512, max_context: int = 256,
                 reply_ids: list[int] | None = None, token_delay_s: float = 0.0, max_running: int | None = None):
        self.model_name = model_name
        self.max_context = max_context
        self.vocab_size = vocab_size
        self.reply_ids = reply_ids
        self.token_delay_s = token_delay_s
        self.max_running = max_running  # more concurrent requests than this raise QueueFull
        self.requests: list[GenerationRequest] = []
        self.aborted: list[str] = []
        self.running: set[str] = set()
        self.started = False
        self.draining = False

    async def start(self) -> None:
        self.started = True

    def token_ids(self, request: GenerationRequest) -> list[int]:
        """The whole reply this engine gives to `request`, before max_tokens cuts it."""
        if self.reply_ids is not None:
            return list(self.reply_ids)
        p = request.params
        prompt = tuple(request.prompt_token_ids)
        if p.temperature == 0:
            rng = random.Random(str(prompt))
        else:
            rng = random.Random(str((prompt, p.seed)) if p.seed is not None else None)
        return [rng.randrange(FIRST_TEXT_ID, self.vocab_size) for _ in range(p.max_tokens)]

    async def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        if self.draining:
            raise EngineShuttingDown()
        if self.max_running is not None and len(self.running) >= self.max_running:
            raise QueueFull()
        self.requests.append(request)
        self.running.add(request.request_id)
        p = request.params
        reply = self.token_ids(request)
        constraint = p.constraint() if p.constraint is not None else None
        if constraint is not None:
            reply += [FIRST_TEXT_ID] * (p.max_tokens - len(reply))
        ids = reply[:p.max_tokens]
        prompt_tokens = len(request.prompt_token_ids)
        try:
            for i, token in enumerate(ids):
                if self.token_delay_s:
                    await asyncio.sleep(self.token_delay_s)
                if request.request_id in self.aborted:
                    yield TokenEvent(request.request_id, ABORT_TOKEN_ID, finish_reason="abort",
                                     prompt_tokens=prompt_tokens, completion_tokens=i)
                    return
                last = i == len(ids) - 1
                if constraint is not None:
                    try:
                        token = self._constrained(constraint, token, p.max_tokens - i)
                    except Exception:
                        yield TokenEvent(request.request_id, ABORT_TOKEN_ID, finish_reason="abort",
                                         prompt_tokens=prompt_tokens, completion_tokens=i)
                        return
                    finish = "stop" if token in p.stop_token_ids else "length" if last else None
                else:
                    fits = self.reply_ids is not None and len(reply) <= p.max_tokens
                    finish = None if not last else ("stop" if fits else "length")
                top = None if p.logprobs is None else {token: -0.5, **{
                    (token + k) % self.vocab_size: -0.5 - k for k in range(1, p.logprobs)}}
                yield TokenEvent(request.request_id, token, logprob=None if p.logprobs is None else -0.5,
                                 top_logprobs=top, finish_reason=finish, prompt_tokens=prompt_tokens,
                                 completion_tokens=i + 1, queue_time_s=0.0 if i == 0 else None)
                if finish is not None:
                    return
        finally:
            self.running.discard(request.request_id)

    def _constrained(self, constraint, token: int, remaining: int) -> int:
        logits = torch.zeros(self.vocab_size)
        logits[token] = 1.0  # the planned token ranks first
        allowed = constraint.allowed(logits, remaining).tolist()
        chosen = token if token in allowed else allowed[0]
        constraint.advance(chosen)
        return chosen

    async def abort(self, request_id: str) -> None:
        self.aborted.append(request_id)

    def stats(self) -> EngineStats:
        return EngineStats(running=len(self.running), waiting=0, kv_cache_usage=len(self.running) / 16)

    async def shutdown(self, drain_timeout_s: float = 30.0) -> None:
        self.draining = True
