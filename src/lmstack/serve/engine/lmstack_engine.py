"""lmstack's own engine: continuous batching over transformers' modeling code, with an engine-owned KV cache.

    >>> engine = LmstackEngine(model, model_name="demo")                       # doctest: +SKIP
    >>> await engine.start()                                                    # doctest: +SKIP
    >>> async for event in engine.generate(GenerationRequest("r1", [1, 2, 3], SamplingParams())):
    ...     print(event.token_id, event.finish_reason)                          # doctest: +SKIP

One background thread runs the step loop: take the `Scheduler`'s plan, run ONE forward over the
whole step — every running sequence's next token and every prompt chunk the step's prefill budget
covers, flattened into one sequence with per-token position ids — sample, and stream a
`TokenEvent` per token to each request's asyncio queue. One forward per step means the weights
are read once per step however many prompts join. torch releases the GIL inside its kernels, so
the event loop (HTTP, tokenizer) keeps running meanwhile.

Two forwards, the same results. Llama, Mistral and Qwen2 models run `DecoderStep`, a lean forward
over the model's own weights (fused projections, no transformers module calls; a one-token step of
a 125M model on 2 CPU cores: 14 → 8.5 ms). Every other architecture — and these too with
`lean=False` — runs the model's own forward (`model(input_ids, position_ids, cache, ...)`): the
engine supplies `SlotCache`, a transformers `Cache` that writes K/V into the engine's
preallocated buffers, and `slot_attention`, an attention function registered with transformers
that attends each token to its own slot (see `kv_cache`); so every architecture transformers
implements with the standard cache and attention interfaces runs unchanged. `start()` switches
the model to that attention and `shutdown()` switches it back; in between, HF `generate` on the
same model still gets transformers' SDPA attention. On a CPU in bf16 both forwards use weights
packed for oneDNN (`packed_linear`; one extra copy of the linear weights while the engine runs).

Threading: the scheduler's state is guarded by one condition variable, held only for bookkeeping
(never during a forward). The KV buffers are touched by the loop thread alone, so aborts and
frees are queued to it and applied between steps — a request's slot is free at the next step
boundary, a few milliseconds later. The thread that starts the engine and a loop with nothing to do
end their OpenMP worker teams (`lmstack.hardware.openmp`): a step runs 1.5× slower while another
thread's idle team is alive. Steps run on the thread count `start()` found.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

from lmstack.serve.engine.base import (
    ABORT_TOKEN_ID,
    EngineStats,
    FinishReason,
    GenerationRequest,
    TokenConstraint,
    TokenEvent,
    check_prompt,
)
from lmstack.serve.engine.decoder_step import DecoderStep
from lmstack.serve.engine.kv_cache import KVCache, PromptSegment, SlotCache, StepLayout, install_slot_attention
from lmstack.serve.engine.packed_linear import PackedLinears
from lmstack.serve.engine.sampling import sample
from lmstack.serve.engine.scheduler import PrefillChunk, Scheduler, Sequence
from lmstack.serve.engine.threaded import LiveRequest, ThreadedEngine

log = logging.getLogger(__name__)

# Prompt tokens per step. 256 of them cost a small model on a CPU a few decode steps' time: the
# running batch's next token waits that long, never for a whole long prompt.
DEFAULT_PREFILL_CHUNK_TOKENS = 256


@dataclass(eq=False)
class _Live(LiveRequest):
    sequence: Sequence

    @property
    def request_id(self) -> str:
        return self.sequence.request_id


class LmstackEngine(ThreadedEngine):
    """Continuous batching engine for a causal LM (implements `lmstack.serve.engine.base.Engine`).

    max_batch_size: sequences decoding at once (= KV slots); max_queue: requests waiting beyond
    them before `generate` raises QueueFull; max_context: prompt + generated tokens per request
    (default: the model's max_position_embeddings); eos_token_ids: default from the model's
    generation config; lean: run Llama-family models through `DecoderStep` (False: always the generic path).
    """

    def __init__(self, model: PreTrainedModel, *, model_name: str, max_batch_size: int = 16, max_queue: int = 256,
                 max_context: int | None = None, prefill_chunk_tokens: int = DEFAULT_PREFILL_CHUNK_TOKENS,
                 eos_token_ids: set[int] | None = None, lean: bool = True):
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
        self._no_mask = torch.zeros((1, 1, 1, 1), dtype=model.dtype, device=model.device)
        self._init_loop()
        self._attn_before = model.config._attn_implementation
        self._packed = PackedLinears([])
        self._lean = lean
        self._decoder_step: DecoderStep | None = None

    async def start(self) -> None:
        """Start the step loop (idempotent)."""
        if self._thread is None:
            # the linear products are measured at the rows of a step with a full prompt chunk
            s = self.scheduler
            step_rows = s.prefill_chunk_tokens + s.num_slots // 2
            self._decoder_step = DecoderStep.build(self.model, step_rows=step_rows) if self._lean else None
            if self._decoder_step is None:  # the generic path: the model's own forward with the engine's cache
                self._attn_before = install_slot_attention(self.model)
                self._packed = PackedLinears.install(self.model)  # bf16 on CPU: oneDNN-prepacked weights
            # The caller's thread count, which the loop thread sets for itself.
            threads = torch.get_num_threads()
            self._start_loop(self._run, f"lmstack-engine-{self.model_name}", threads)

    def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        """Queue `request` now (QueueFull / EngineShuttingDown / ValueError raised here) and stream its tokens.

        Closing the returned iterator early (a client that went away) aborts the request.
        """
        prompt, params = request.prompt_token_ids, request.params
        check_prompt(prompt, self.max_context)
        self._check("prompt", prompt, params)
        seq = Sequence(request.request_id, list(prompt), params)
        live = _Live(seq, **LiveRequest.fields_for(params))
        return self._admit(live, lambda: self.scheduler.add(seq))

    def stats(self) -> EngineStats:
        """Running counts prompts being prefilled; KV usage is the share of slots taken."""
        with self._cond:
            s = self.scheduler
            return EngineStats(running=s.slots_used, waiting=len(s.waiting), kv_cache_usage=s.slots_used / s.num_slots)

    async def shutdown(self, drain_timeout_s: float = 30.0) -> None:
        """Refuse new requests, let running ones finish for up to drain_timeout_s, then abort the rest."""
        if await self._drain_and_stop(drain_timeout_s):
            # Give the model back as it came (transformers' own continuous batching refuses custom attention).
            self.model.set_attn_implementation(self._attn_before)
            self._packed.remove()
            self._decoder_step = None

    # The step loop, on its own thread.

    def _run(self, threads: int) -> None:
        torch.set_num_threads(threads)
        while True:
            with self._cond:
                self._wait_for_work(lambda: self.scheduler.has_work or bool(self._aborts) or self._stopping)
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
        # Flatten the step: decode rows (one token each, row i in slot i), then each prompt chunk.
        tokens = [s.output_token_ids[-1] for s in decode]
        slots = [s.slot for s in decode]
        positions = [s.num_computed for s in decode]
        keep = list(range(len(decode)))  # the flat positions whose logits are sampled
        segments, prompts_done = [], []
        for chunk in prefills:
            seq, n = chunk.sequence, chunk.end - chunk.start
            segments.append(PromptSegment(len(tokens), n, seq.slot, chunk.start))
            tokens += seq.prompt_token_ids[chunk.start:chunk.end]
            slots += [seq.slot] * n
            positions += range(chunk.start, chunk.end)
            if chunk.end == len(seq.prompt_token_ids):
                keep.append(len(tokens) - 1)
                prompts_done.append(seq)
        logits = self._forward(tokens, positions, StepLayout.build(slots, positions, len(decode), segments,
                                                                  self.model.device), keep)
        for s in decode:
            s.num_computed += 1
        for chunk in prefills:
            chunk.sequence.num_computed = chunk.end
        if prompts_done:
            with self._cond:
                for seq in prompts_done:  # admission order: each joins the running batch at slot R
                    self.kv.move(self.scheduler.prefill_done(seq))
        if keep:
            self._emit(decode + prompts_done, logits)

    def _forward(self, tokens: list[int], positions: list[int], layout: StepLayout, keep: list[int]) -> torch.Tensor:
        """One forward over the flat step; logits (len(keep), V) at the flat positions `keep`."""
        device = self.model.device
        if self._decoder_step is not None:
            return self._decoder_step(torch.tensor(tokens, device=device), layout.positions, layout,
                                      torch.tensor(keep, dtype=torch.long, device=device), self.kv)
        # A 4-D mask is taken as given; slot_attention builds its own from the layout, so any will do.
        out = self.model(input_ids=torch.tensor([tokens], device=device),
                         position_ids=torch.tensor([positions], device=device),
                         attention_mask=self._no_mask, cache=SlotCache(self.kv, layout), use_cache=True,
                         logits_to_keep=torch.tensor(keep, dtype=torch.long, device=device), slot_layout=layout)
        return out.logits[0]  # (K, V)

    def _emit(self, seqs: list[Sequence], logits: torch.Tensor) -> None:
        """Sample each sequence's next token, stream it, and free the sequences that finished."""
        lives = [self._live[s.request_id] for s in seqs]
        masks = [None if live.constraint is None else self._mask(live.constraint, seq)
                 for seq, live in zip(seqs, lives)]
        samples = sample(logits, [s.params for s in seqs], [s.output_token_ids for s in seqs],
                         [live.generator for live in lives], masks if any(masks) else None)
        finished, failed, deliveries = [], [], []
        for seq, live, smp in zip(seqs, lives, samples):
            error = smp.error
            if error is None and live.constraint is not None:
                try:
                    live.constraint.advance(smp.token_id)
                except Exception as e:  # the constraint's own failure ends its request only
                    error = e
            if error is not None:
                log.error("request %s: its token constraint failed (%s); aborting it", seq.request_id, error)
                failed.append(seq.request_id)
                continue
            seq.output_token_ids.append(smp.token_id)
            reason = self._finish_reason(seq, smp.token_id)
            first = len(seq.output_token_ids) == 1
            deliveries.append((live, TokenEvent(seq.request_id, smp.token_id, smp.logprob, smp.top_logprobs, reason,
                                                len(seq.prompt_token_ids), len(seq.output_token_ids),
                                                seq.queue_time_s if first else None)))
            if reason is not None:
                finished.append(seq.request_id)
        self._deliver_all(deliveries)  # the step's tokens with one wake-up of the event loop
        if finished or failed:
            with self._cond:
                for request_id in finished:
                    self._free(request_id)
                self._aborts.update(failed)

    def _mask(self, constraint: TokenConstraint, seq: Sequence):
        generated = len(seq.output_token_ids)
        remaining = min(seq.params.max_tokens - generated, self.max_context - len(seq.prompt_token_ids) - generated)
        return lambda row: constraint.allowed(row, remaining)

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
            first = not seq.output_token_ids
            self._deliver(live, TokenEvent(request_id, ABORT_TOKEN_ID, finish_reason="abort",
                                           prompt_tokens=len(seq.prompt_token_ids),
                                           completion_tokens=len(seq.output_token_ids),
                                           queue_time_s=seq.queue_time_s if first else None))
            self._free(request_id)
        self._aborts.clear()

    def _free(self, request_id: str) -> None:
        """With the lock held: take the request out of the scheduler and its slot out of use."""
        _, moves = self.scheduler.free(request_id)
        self.kv.move(moves)
        self._live.pop(request_id, None)
