"""transformers' own continuous batching behind lmstack's Engine interface: the peer to compare against.

    >>> engine = TransformersEngine(model, model_name="demo")                  # doctest: +SKIP

A thin adapter over `model.init_continuous_batching()` (transformers' ContinuousBatchingManager,
paged KV cache, its own scheduler and thread). Greedy decoding only: the manager takes one
generation config for all requests, and its per-request options (temperature, top-k, top-p) have
no seed, penalties, logit_bias, logprobs or token constraints (JSON mode), so any other
SamplingParams raise ValueError rather than being silently ignored. The manager does not say when
a request was first scheduled, so TokenEvent.queue_time_s stays None. The manager attaches itself
to the model and may run it without a causal mask; give this engine a model object of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from transformers import GenerationConfig, PreTrainedModel
from transformers.generation.configuration_utils import ContinuousBatchingConfig

from lmstack.serve.engine.base import (
    ABORT_TOKEN_ID,
    EngineShuttingDown,
    EngineStats,
    GenerationRequest,
    QueueFull,
    SamplingParams,
    TokenEvent,
)

# transformers' paged cache: blocks of PAGE_SIZE tokens, enough for every request at full context.
PAGE_SIZE = 64


class TransformersEngine:
    """Engine over transformers' ContinuousBatchingManager (greedy only; see the module docstring)."""

    def __init__(self, model: PreTrainedModel, *, model_name: str, max_batch_size: int = 16, max_queue: int = 256,
                 max_context: int | None = None):
        self.model = model
        self.model_name = model_name
        limit = model.config.get_text_config().max_position_embeddings
        self.max_context = min(max_context or limit, limit)
        self.max_batch_size = max_batch_size
        self.max_queue = max_queue
        eos = model.generation_config.eos_token_id
        self.eos_token_ids = set() if eos is None else {eos} if isinstance(eos, int) else set(eos)
        self._manager = None
        self._queues: dict[str, asyncio.Queue[TokenEvent]] = {}
        self._draining = False

    async def start(self) -> None:
        if self._manager is None:
            blocks = self.max_batch_size * -(-self.max_context // PAGE_SIZE)
            self._manager = self.model.init_continuous_batching(
                generation_config=GenerationConfig(do_sample=False, max_new_tokens=self.max_context),
                continuous_batching_config=ContinuousBatchingConfig(
                    page_size=PAGE_SIZE, num_blocks=blocks, max_requests_per_batch=self.max_batch_size,
                    max_batch_tokens=max(256, self.max_batch_size)))
            self._manager.start()

    def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        params = request.params
        unsupported = _unsupported(params)
        if unsupported:
            raise ValueError("the transformers backend decodes greedily only; "
                             f"it cannot honour {', '.join(unsupported)}")
        if len(request.prompt_token_ids) >= self.max_context:
            raise ValueError(f"the prompt has {len(request.prompt_token_ids)} tokens; "
                             f"this engine's context holds {self.max_context}")
        if self._manager is None:
            raise RuntimeError("call `await engine.start()` before generate()")
        if self._draining:
            raise EngineShuttingDown("the engine is shutting down and takes no new requests")
        # The manager has no bound of its own: every request in flight counts against max_queue.
        if len(self._queues) >= self.max_queue + self.max_batch_size:
            raise QueueFull(f"{len(self._queues)} requests are in flight")
        rid = request.request_id
        if rid in self._queues:
            raise ValueError(f"request id {rid!r} is already in use")
        stop_ids = set(params.stop_token_ids) | (set() if params.ignore_eos else self.eos_token_ids)
        max_tokens = min(params.max_tokens, self.max_context - len(request.prompt_token_ids))
        queue: asyncio.Queue[TokenEvent] = asyncio.Queue()
        self._queues[rid] = queue
        prompt_tokens, sent = len(request.prompt_token_ids), [0]

        def on_result(output) -> None:
            new = output.generated_tokens[sent[0]:]
            for i, token in enumerate(new, start=sent[0] + 1):
                last = output.is_finished() and i == len(output.generated_tokens)
                reason = ("stop" if token in stop_ids else "length") if last else None
                queue.put_nowait(TokenEvent(rid, token, finish_reason=reason, prompt_tokens=prompt_tokens,
                                            completion_tokens=i))
            sent[0] = len(output.generated_tokens)

        self._manager.register_result_handler(rid, on_result)
        # -1: transformers' "no eos"; a list stops at any of its ids.
        self._manager.add_request(request.prompt_token_ids, request_id=rid, max_new_tokens=max_tokens,
                                  streaming=True, eos_token_id=sorted(stop_ids) or -1)
        return self._stream(rid, queue)

    async def _stream(self, rid: str, queue: asyncio.Queue[TokenEvent]) -> AsyncIterator[TokenEvent]:
        event = None
        try:
            while True:
                event = await queue.get()
                yield event
                if event.finish_reason is not None:
                    return
        finally:
            if self._queues.pop(rid, None) is not None and (event is None or event.finish_reason is None):
                self._manager.cancel_request(rid)

    async def abort(self, request_id: str) -> None:
        queue = self._queues.pop(request_id, None)
        if queue is not None:
            self._manager.cancel_request(request_id)
            queue.put_nowait(TokenEvent(request_id, ABORT_TOKEN_ID, finish_reason="abort"))

    def stats(self) -> EngineStats:
        """The manager does not expose its queue or cache: requests in flight count as running."""
        running = len(self._queues)
        return EngineStats(running=running, waiting=0, kv_cache_usage=min(1.0, running / self.max_batch_size))

    async def shutdown(self, drain_timeout_s: float = 30.0) -> None:
        self._draining = True
        deadline = time.monotonic() + drain_timeout_s
        while self._queues and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for rid in list(self._queues):
            await self.abort(rid)
        if self._manager is not None:
            await asyncio.to_thread(self._manager.stop, block=True)


def _unsupported(params: SamplingParams) -> list[str]:
    checks = {"temperature > 0": params.temperature > 0, "seed": params.seed is not None,
              "presence_penalty": bool(params.presence_penalty), "frequency_penalty": bool(params.frequency_penalty),
              "logit_bias": bool(params.logit_bias), "logprobs": params.logprobs is not None,
              "a token constraint (response_format)": params.constraint is not None}
    return [name for name, used in checks.items() if used]
