"""lmstack's own engine: continuous batching over transformers' modeling code, with an engine-owned KV cache.

    >>> engine = LmstackEngine(model, model_name="demo")                       # doctest: +SKIP
    >>> await engine.start()                                                    # doctest: +SKIP
    >>> async for event in engine.generate(GenerationRequest("r1", [1, 2, 3], SamplingParams())):
    ...     print(event.token_id, event.finish_reason)                          # doctest: +SKIP

One background thread runs the step loop: take the `Scheduler`'s plan, run one forward over all
running sequences (one new token each; rows at different lengths share the step through an
explicit attention mask and per-row position ids) and one per prompt chunk the step's prefill
budget covers, sample, and stream a `TokenEvent` per token to each request's asyncio queue. torch
releases the GIL inside its kernels, so the event loop (HTTP, tokenizer) keeps running meanwhile.

The forward pass is the model's own (`model(input_ids, position_ids, attention_mask, cache)`):
the engine only supplies `SlotCache`, a transformers `Cache` that writes K/V into the engine's
preallocated buffers, so every architecture transformers implements with the standard cache
interface (Llama, Mistral, Qwen2, …) runs unchanged.

Threading: the scheduler's state is guarded by one condition variable, held only for bookkeeping
(never during a forward). The KV buffers are touched by the loop thread alone, so aborts and
frees are queued to it and applied between steps — a request's slot is free at the next step
boundary, a few milliseconds later.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import torch
from transformers import PreTrainedModel

from lmstack.serve.engine.base import (
    EngineShuttingDown,
    EngineStats,
    FinishReason,
    GenerationRequest,
    TokenEvent,
)
from lmstack.serve.engine.kv_cache import KVCache
from lmstack.serve.engine.sampling import make_generator, sample
from lmstack.serve.engine.scheduler import PrefillChunk, Scheduler, Sequence

log = logging.getLogger(__name__)

# An aborted request's last event carries no token: its token_id is this.
ABORT_TOKEN_ID = -1
# Prompt tokens per step. 256 of them cost a small model on a CPU a few decode steps' time: the
# running batch's next token waits that long, never for a whole long prompt.
DEFAULT_PREFILL_CHUNK_TOKENS = 256


@dataclass(eq=False)
class _Live:
    """A request between `generate` and its last event, as the event loop sees it."""

    sequence: Sequence
    loop: asyncio.AbstractEventLoop
    generator: torch.Generator | None
    queue: asyncio.Queue[TokenEvent] = field(default_factory=asyncio.Queue)
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class LmstackEngine:
    """Continuous batching engine for a causal LM (implements `lmstack.serve.engine.base.Engine`).

    max_batch_size: sequences decoding at once (= KV slots); max_queue: requests waiting beyond
    them before `generate` raises QueueFull; max_context: prompt + generated tokens per request
    (default: the model's max_position_embeddings); eos_token_ids: default from the model's
    generation config.
    """

    def __init__(self, model: PreTrainedModel, *, model_name: str, max_batch_size: int = 16, max_queue: int = 256,
                 max_context: int | None = None, prefill_chunk_tokens: int = DEFAULT_PREFILL_CHUNK_TOKENS,
                 eos_token_ids: set[int] | None = None):
        config = model.config.get_text_config()
        self.model = model
        self.model_name = model_name
        self.vocab_size = config.vocab_size
        self.max_context = min(max_context or config.max_position_embeddings, config.max_position_embeddings)
        self.kv = KVCache(model.config, num_slots=max_batch_size, max_context=self.max_context,
                          dtype=model.dtype, device=model.device)
        self.scheduler = Scheduler(num_slots=max_batch_size, max_queue=max_queue,
                                   prefill_chunk_tokens=prefill_chunk_tokens)
        if eos_token_ids is None:
            eos = model.generation_config.eos_token_id
            eos_token_ids = set() if eos is None else {eos} if isinstance(eos, int) else set(eos)
        self.eos_token_ids = eos_token_ids
        self._cond = threading.Condition()
        self._live: dict[str, _Live] = {}
        self._aborts: set[str] = set()
        self._draining = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        """Start the step loop (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"lmstack-engine-{self.model_name}", daemon=True)
            self._thread.start()

    def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        """Queue `request` now (QueueFull / EngineShuttingDown / ValueError raised here) and stream its tokens.

        Closing the returned iterator early (a client that went away) aborts the request.
        """
        prompt, params = request.prompt_token_ids, request.params
        if not prompt:
            raise ValueError("the prompt has no tokens")
        if len(prompt) >= self.max_context:
            raise ValueError(f"the prompt has {len(prompt)} tokens; this engine's context holds {self.max_context}, "
                             "prompt and at least one generated token")
        if params.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        # A bad id would fail the whole step, and with it every request in the batch: refuse it here.
        for what, ids in (("prompt", prompt), ("logit_bias", params.logit_bias)):
            if not all(0 <= t < self.vocab_size for t in ids):
                raise ValueError(f"the {what} has token ids outside the model's vocabulary of {self.vocab_size}")
        if params.logprobs is not None and not 0 <= params.logprobs <= self.vocab_size:
            raise ValueError(f"logprobs must be between 0 and the vocabulary size {self.vocab_size}")
        if self._thread is None:
            raise RuntimeError("call `await engine.start()` before generate()")
        seq = Sequence(request.request_id, list(prompt), params)
        live = _Live(seq, asyncio.get_running_loop(), make_generator(params.seed) if params.temperature > 0 else None)
        with self._cond:
            if self._draining:
                raise EngineShuttingDown("the engine is shutting down and takes no new requests")
            if request.request_id in self._live:
                raise ValueError(f"request id {request.request_id!r} is already in use")
            self.scheduler.add(seq)
            self._live[request.request_id] = live
            self._cond.notify()
        return self._stream(live)

    async def _stream(self, live: _Live) -> AsyncIterator[TokenEvent]:
        try:
            while True:
                event = await live.queue.get()
                yield event
                if event.finish_reason is not None:
                    return
        finally:
            if not live.closed.is_set():
                self._request_abort(live.sequence.request_id)

    async def abort(self, request_id: str) -> None:
        """Stop `request_id`; returns once its slot is free and its stream has its 'abort' event."""
        with self._cond:
            live = self._live.get(request_id)
        if live is None:
            return
        self._request_abort(request_id)
        await live.closed.wait()

    def _request_abort(self, request_id: str) -> None:
        with self._cond:
            self._aborts.add(request_id)
            self._cond.notify()

    def stats(self) -> EngineStats:
        """Running counts prompts being prefilled; KV usage is the share of slots taken."""
        with self._cond:
            s = self.scheduler
            return EngineStats(running=s.slots_used, waiting=len(s.waiting), kv_cache_usage=s.slots_used / s.num_slots)

    async def shutdown(self, drain_timeout_s: float = 30.0) -> None:
        """Refuse new requests, let running ones finish for up to drain_timeout_s, then abort the rest."""
        with self._cond:
            self._draining = True
        deadline = time.monotonic() + drain_timeout_s
        while self._live and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        with self._cond:
            self._aborts.update(self._live)
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    # The step loop, on its own thread.

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self.scheduler.has_work or self._aborts or self._stopping):
                    self._cond.wait()
                self._apply_aborts()
                if self._stopping and not self.scheduler.has_work:
                    return
                plan = self.scheduler.schedule()
            if plan.empty:
                continue
            try:
                with torch.inference_mode():
                    self._step(plan.decode, plan.prefills)
            except Exception:
                # One bad step must not take the server down: its requests end, the loop goes on.
                log.exception("engine step failed; aborting the requests in it")
                with self._cond:
                    involved = plan.decode + [chunk.sequence for chunk in plan.prefills]
                    self._aborts.update(s.request_id for s in involved)

    def _step(self, decode: list[Sequence], prefills: list[PrefillChunk]) -> None:
        if decode:
            input_ids = torch.tensor([[s.output_token_ids[-1]] for s in decode])  # (B, 1)
            positions = torch.tensor([s.num_computed for s in decode])  # (B,)
            logits = self._forward(input_ids, positions, first_slot=0)
            for s in decode:
                s.num_computed += 1
            self._emit(decode, logits)
        for chunk in prefills:
            seq = chunk.sequence
            input_ids = torch.tensor([seq.prompt_token_ids[chunk.start:chunk.end]])  # (1, q)
            logits = self._forward(input_ids, torch.tensor([chunk.start]), first_slot=seq.slot)
            seq.num_computed = chunk.end
            if seq.prompt_done:
                with self._cond:
                    self.kv.move(self.scheduler.prefill_done(seq))
                self._emit([seq], logits)

    def _forward(self, input_ids: torch.Tensor, positions: torch.Tensor, first_slot: int) -> torch.Tensor:
        """Logits (B, V) of the last input position of each row; row i's tokens start at positions[i]."""
        q_len = input_ids.shape[1]
        device = self.model.device
        cache = self.kv.view(first_slot, positions.to(device), q_len)
        position_ids = positions[:, None] + torch.arange(q_len)  # (B, q)
        # Row i's query at position p sees keys 0..p of its own slot; the rest of the view is
        # other rows' length padding or stale entries of a freed sequence.
        allowed = torch.arange(cache.kv_len)[None, None, None, :] <= position_ids[:, None, :, None]  # (B, 1, q, kv)
        dtype = self.model.dtype
        mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
        out = self.model(input_ids=input_ids.to(device), position_ids=position_ids.to(device),
                         attention_mask=mask.to(device), cache=cache, use_cache=True, logits_to_keep=1)
        return out.logits[:, -1]  # (B, V)

    def _emit(self, seqs: list[Sequence], logits: torch.Tensor) -> None:
        """Sample each sequence's next token, stream it, and free the sequences that finished."""
        lives = [self._live[s.request_id] for s in seqs]
        samples = sample(logits, [s.params for s in seqs], [s.output_token_ids for s in seqs],
                         [live.generator for live in lives])
        finished = []
        for seq, live, smp in zip(seqs, lives, samples):
            seq.output_token_ids.append(smp.token_id)
            reason = self._finish_reason(seq, smp.token_id)
            self._deliver(live, TokenEvent(seq.request_id, smp.token_id, smp.logprob, smp.top_logprobs, reason,
                                           len(seq.prompt_token_ids), len(seq.output_token_ids)))
            if reason is not None:
                finished.append(seq.request_id)
        if finished:
            with self._cond:
                for request_id in finished:
                    self._free(request_id)

    def _finish_reason(self, seq: Sequence, token_id: int) -> FinishReason | None:
        p = seq.params
        if (token_id in self.eos_token_ids and not p.ignore_eos) or token_id in p.stop_token_ids:
            return "stop"
        generated = len(seq.output_token_ids)
        if generated >= p.max_tokens or len(seq.prompt_token_ids) + generated >= self.max_context:
            return "length"
        return None

    def _apply_aborts(self) -> None:
        """With the lock held: end every request whose abort was asked for."""
        for request_id in self._aborts:
            live = self._live.get(request_id)
            if live is None:
                continue
            seq = live.sequence
            self._deliver(live, TokenEvent(request_id, ABORT_TOKEN_ID, finish_reason="abort",
                                           prompt_tokens=len(seq.prompt_token_ids),
                                           completion_tokens=len(seq.output_token_ids)))
            self._free(request_id)
        self._aborts.clear()

    def _free(self, request_id: str) -> None:
        """With the lock held: take the request out of the scheduler and its slot out of use."""
        _, moves = self.scheduler.free(request_id)
        self.kv.move(moves)
        self._live.pop(request_id, None)

    @staticmethod
    def _deliver(live: _Live, event: TokenEvent) -> None:
        def put() -> None:
            live.queue.put_nowait(event)
            if event.finish_reason is not None:
                live.closed.set()

        live.loop.call_soon_threadsafe(put)
