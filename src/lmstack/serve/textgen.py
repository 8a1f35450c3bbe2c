"""The text layer between the OpenAI API and an engine.

An engine streams token ids; a client wants text. For each of a request's `n` choices this turns
`TokenEvent`s into `ChoiceDelta`s: incremental detokenization (a multi-byte character split across
tokens is held until it is whole), stop strings (the engine request is aborted the moment one
matches, and the text is cut before it; a tail that could still become a stop string is held back
so it never streams out), logprobs, finish_reason and token counts. Whatever ends a choice early (a
stop string, a client that goes away, a cancelled task) aborts its engine request, so its slot and
KV cache are freed at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import anyio

from lmstack.serve.engine.base import (
    Engine,
    EngineShuttingDown,
    GenerationRequest,
    QueueFull,
    SamplingParams,
    TokenEvent,
)
from lmstack.serve.errors import APIError

QUEUE_FULL_RETRY_AFTER_S = 1


@dataclass(frozen=True)
class TokenInfo:
    """One generated token with its log probability and the top alternatives, already as text."""

    token: str
    logprob: float | None
    top: list[tuple[str, float]]


@dataclass
class ChoiceDelta:
    index: int
    text: str
    tokens: list[TokenInfo] = field(default_factory=list)
    finish_reason: str | None = None
    completion_tokens: int = 0  # running total for this choice
    queue_time_s: float | None = None  # on the choice's first delta, when the engine measured it


class IncrementalDetokenizer:
    """Text for each new token id, decoding a small window (vLLM's prefix/read offsets).

    Decoding ids one at a time breaks characters whose bytes span tokens, and decoding everything
    each step is quadratic; the window re-decodes only from the last place text was emitted.
    """

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix = 0
        self.read = 0

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def add(self, token_id: int) -> str:
        self.ids.append(token_id)
        prefix_text = self._decode(self.ids[self.prefix:self.read])
        new_text = self._decode(self.ids[self.prefix:])
        if len(new_text) > len(prefix_text) and not new_text.endswith("\ufffd"):
            self.prefix, self.read = self.read, len(self.ids)
            return new_text[len(prefix_text):]
        return ""

    def flush(self) -> str:
        """Whatever is still held at the end (an incomplete character decodes as U+FFFD)."""
        prefix_text = self._decode(self.ids[self.prefix:self.read])
        rest = self._decode(self.ids[self.prefix:])[len(prefix_text):]
        self.prefix = self.read = len(self.ids)
        return rest


class StopMatcher:
    """Finds stop strings in streamed text; holds back a tail that may be the start of one."""

    def __init__(self, stops: list[str]):
        self.stops = stops
        self.text = ""
        self.sent = 0

    def feed(self, delta: str) -> tuple[str, bool]:
        """Add text; return (text safe to send now, whether a stop string matched)."""
        old_len = len(self.text)
        self.text += delta
        hits = [i for s in self.stops if (i := self.text.find(s, max(0, old_len - len(s) + 1))) >= 0]
        if hits:
            end = min(hits)
            out, self.text, self.sent = self.text[self.sent:end], self.text[:end], end
            return out, True
        held = max((k for s in self.stops for k in range(1, len(s)) if self.text.endswith(s[:k])), default=0)
        end = max(self.sent, len(self.text) - held)
        out, self.sent = self.text[self.sent:end], end
        return out, False

    def flush(self) -> str:
        out, self.sent = self.text[self.sent:], len(self.text)
        return out


class ChoiceStream:
    """One choice: one engine request, primed (see `open_choices`), then read as deltas."""

    def __init__(self, index: int, engine: Engine, tokenizer: Any, request: GenerationRequest, stops: list[str]):
        self.index = index
        self.engine = engine
        self.tokenizer = tokenizer
        self.request_id = request.request_id
        self._stream = aiter(engine.generate(request))
        self._first: TokenEvent | None = None
        self._detok = IncrementalDetokenizer(tokenizer)
        self._stops = StopMatcher(stops)
        self.completion_tokens = 0
        self.finished = False

    async def prime(self) -> None:
        """Wait for the first event: QueueFull / EngineShuttingDown surface here, before any response."""
        try:
            self._first = await anext(self._stream, None)
        except Exception:
            self.finished = True  # the engine never took it: nothing to abort
            raise

    async def deltas(self) -> AsyncIterator[ChoiceDelta]:
        event = self._first
        while event is not None and not self.finished:
            delta = self._on_event(event)
            if delta.finish_reason == "stop" and event.finish_reason is None:
                await self.abort()  # a stop string matched while the engine was still going
            yield delta
            if not self.finished:
                event = await anext(self._stream, None)
        if not self.finished:  # the engine's stream ended without a finish_reason
            self.finished = True
            yield ChoiceDelta(self.index, self._detok_tail(), finish_reason="abort",
                              completion_tokens=self.completion_tokens)

    def _on_event(self, event: TokenEvent) -> ChoiceDelta:
        if event.finish_reason == "abort":
            self.finished = True
            return ChoiceDelta(self.index, self._detok_tail(), finish_reason="abort",
                               completion_tokens=self.completion_tokens, queue_time_s=event.queue_time_s)
        self.completion_tokens += 1
        info = self._token_info(event) if event.logprob is not None else None
        text, stopped = self._stops.feed(self._detok.add(event.token_id))
        finish = "stop" if stopped else event.finish_reason
        if finish is not None:
            self.finished = True
            if not stopped:
                text += self._detok_tail()
        return ChoiceDelta(self.index, text, [info] if info else [], finish, self.completion_tokens,
                           event.queue_time_s)

    def _detok_tail(self) -> str:
        text, stopped = self._stops.feed(self._detok.flush())
        return text if stopped else text + self._stops.flush()

    def _token_info(self, event: TokenEvent) -> TokenInfo:
        decode = self.tokenizer.decode
        top = sorted(((decode([t]), lp) for t, lp in (event.top_logprobs or {}).items()), key=lambda p: -p[1])
        return TokenInfo(decode([event.token_id]), event.logprob, top)

    async def abort(self) -> None:
        """Free the engine's slot; safe to call more than once and from a cancelled task."""
        self.finished = True
        with anyio.CancelScope(shield=True):
            await self.engine.abort(self.request_id)


async def open_choices(engine: Engine, tokenizer: Any, request_id: str, prompts: list[list[int]],
                       params: SamplingParams, stops: list[str], n: int) -> list[ChoiceStream]:
    """Submit n engine requests per prompt (choice index = prompt index × n + j); wait for each first event.

    All requests are submitted together, so the engine can batch their prefill. Waiting for the
    first events before answering means a full queue or a draining engine becomes a 429/503 status,
    not an error in the middle of a 200 stream. Each choice gets its own seed (seed + j) so n sampled
    choices differ yet the request stays reproducible.
    """
    choices = []
    for i, prompt in enumerate(prompts):
        for j in range(n):
            index = i * n + j
            p = params if params.seed is None or j == 0 else replace(params, seed=params.seed + j)
            request = GenerationRequest(f"{request_id}-{index}", list(prompt), p)
            choices.append(ChoiceStream(index, engine, tokenizer, request, stops))
    try:
        outcomes = await asyncio.gather(*(c.prime() for c in choices), return_exceptions=True)
    except BaseException:  # cancelled while waiting: the client went away
        await _abort_all(choices)
        raise
    errors = [e for e in outcomes if isinstance(e, BaseException)]
    if not errors:
        return choices
    await _abort_all(choices)
    if any(isinstance(e, QueueFull) for e in errors):
        raise APIError(429, "the server's queue is full; retry later", code="queue_full",
                       retry_after_s=QUEUE_FULL_RETRY_AFTER_S)
    if any(isinstance(e, EngineShuttingDown) for e in errors):
        raise APIError(503, "the server is shutting down", code="shutting_down")
    raise errors[0]


async def _abort_all(choices: list[ChoiceStream]) -> None:
    for c in choices:
        if not c.finished:
            await c.abort()


async def merge_choices(choices: list[ChoiceStream]) -> AsyncIterator[ChoiceDelta]:
    """The deltas of all choices, interleaved as they arrive; unfinished choices abort on exit."""
    if len(choices) == 1:
        try:
            async for d in choices[0].deltas():
                yield d
        finally:
            await _abort_all(choices)
        return
    queue: asyncio.Queue[ChoiceDelta | BaseException | None] = asyncio.Queue()

    async def pump(choice: ChoiceStream) -> None:
        try:
            async for d in choice.deltas():
                await queue.put(d)
        except Exception as e:  # surfaced to the consumer below
            await queue.put(e)
        await queue.put(None)

    tasks = [asyncio.create_task(pump(c)) for c in choices]
    try:
        done = 0
        while done < len(tasks):
            item = await queue.get()
            if item is None:
                done += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        with anyio.CancelScope(shield=True):
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await _abort_all(choices)
