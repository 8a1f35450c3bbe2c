"""Encoder-decoder models (MarianMT, lmstack's seq2seq-* presets) behind the `Engine` interface.

    >>> engine, tokenizer = load_seq2seq_engine("runs/mt/model")                # doctest: +SKIP
    >>> await engine.start()                                                    # doctest: +SKIP
    >>> async for event in engine.generate(GenerationRequest("r1", source_ids, SamplingParams())):
    ...     print(event.token_id, event.finish_reason)                          # doctest: +SKIP

A request's `prompt_token_ids` are the encoder's input (the source, ending with EOS as the seq2seq
recipe trains it: see `source_ids`); the generated tokens are the decoder's. `max_context` bounds
the source and, separately, the generated tokens (each side has the model's own positions).

Batching is batch by batch: one background thread takes up to `max_batch_size` waiting requests,
runs the encoder once over their padded sources, then decodes all rows together step by step
with transformers' encoder-decoder KV cache, streaming one `TokenEvent` per row and step. A row
that finishes (EOS, a stop token, max_tokens, an abort) leaves the batch at once (its cache rows
are dropped), so the rest decodes cheaper; requests that arrive meanwhile wait for the batch to
end. Joining a running batch would need per-row decoder positions, which Marian's code does not
take.

Each step runs the model's own forward and picks tokens with `lmstack.serve.engine.sampling.sample`
— the causal engine's sampler — rather than `model.generate`: `generate` takes one setting for
the whole batch and draws from one global RNG, while here every row keeps its own temperature,
top-k/top-p, penalties, logit_bias, logprobs, token constraint (JSON mode) and seeded generator,
and each token streams as it is chosen. Greedy decoding matches `model.generate(do_sample=False)`
token for token (tests/serve/test_seq2seq.py).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import torch
from transformers import PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from lmstack.errors import UserError
from lmstack.serve.engine.base import (
    ABORT_TOKEN_ID,
    EngineStats,
    FinishReason,
    GenerationRequest,
    QueueFull,
    TokenEvent,
)
from lmstack.serve.engine.sampling import sample
from lmstack.serve.engine.threaded import LiveRequest, ThreadedEngine

log = logging.getLogger(__name__)

DEFAULT_CONTEXT = 512  # for models whose positions have no bound (T5's relative buckets)


def source_ids(tokenizer: PreTrainedTokenizerBase, text: str, max_length: int | None = None) -> list[int]:
    """Encoder input for `text` as the seq2seq recipe trains it: its tokens, then EOS.

    `max_length` cuts the tokens so the ids, EOS included, fit in it.
    """
    ids = tokenizer.encode(text, add_special_tokens=False)
    if max_length is not None:
        ids = ids[:max_length - 1]
    return ids + [tokenizer.eos_token_id]


@dataclass(eq=False)
class _Live(LiveRequest):
    request: GenerationRequest
    arrived: float = field(default_factory=time.perf_counter)
    output_token_ids: list[int] = field(default_factory=list)
    queue_time_s: float | None = None

    @property
    def request_id(self) -> str:
        return self.request.request_id


class Seq2SeqEngine(ThreadedEngine):
    """Batch-by-batch engine for an encoder-decoder model (implements `lmstack.serve.engine.base.Engine`).

    max_batch_size: rows decoded together; max_queue: requests waiting beyond them before
    `generate` raises QueueFull; max_context: the longest source and the most generated tokens
    (default: the model's max_position_embeddings, else DEFAULT_CONTEXT); eos_token_ids: default from the model's
    generation config.
    """

    def __init__(self, model: PreTrainedModel, *, model_name: str, max_batch_size: int = 16, max_queue: int = 256,
                 max_context: int | None = None, eos_token_ids: set[int] | None = None):
        config = model.config
        if not config.is_encoder_decoder:
            raise ValueError(f"{type(model).__name__} is not an encoder-decoder model")
        self.model = model
        self.model_name = model_name
        self.vocab_size = config.get_text_config().vocab_size
        # Marian/BART have learned or sinusoidal positions up to this; T5-style relative ones have no bound.
        limit = getattr(config, "max_position_embeddings", None) or max_context or DEFAULT_CONTEXT
        self.max_context = min(max_context or limit, limit)
        self.max_batch_size = max_batch_size
        self.max_queue = max_queue
        gen = model.generation_config
        start = gen.decoder_start_token_id if gen.decoder_start_token_id is not None else config.decoder_start_token_id
        if start is None:
            raise ValueError("the model's config has no decoder_start_token_id")
        self.decoder_start_token_id = int(start)
        self.pad_token_id = config.pad_token_id if config.pad_token_id is not None else 0
        if eos_token_ids is None:
            eos = gen.eos_token_id
            eos_token_ids = set() if eos is None else {eos} if isinstance(eos, int) else set(eos)
        self.eos_token_ids = eos_token_ids
        self._init_loop()
        self._waiting: deque[_Live] = deque()
        self._running = 0

    async def start(self) -> None:
        """Start the batch loop (idempotent)."""
        if self._thread is None:
            self._start_loop(self._run, f"lmstack-seq2seq-{self.model_name}")

    def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        """Queue `request` now (QueueFull / EngineShuttingDown / ValueError raised here) and stream its tokens."""
        source, params = request.prompt_token_ids, request.params
        if not source:
            raise ValueError("the source has no tokens")
        if len(source) > self.max_context:
            raise ValueError(f"the source has {len(source)} tokens; this model's encoder takes {self.max_context}")
        self._check("source", source, params)
        live = _Live(request, **LiveRequest.fields_for(params))
        return self._admit(live, lambda: self._enqueue(live))

    def _enqueue(self, live: _Live) -> None:
        if len(self._waiting) >= self.max_queue:
            raise QueueFull(f"{len(self._waiting)} requests are waiting")
        self._waiting.append(live)

    def stats(self) -> EngineStats:
        """Rows decoding and requests waiting; the cache share is the share of batch rows in use."""
        with self._cond:
            return EngineStats(running=self._running, waiting=len(self._waiting),
                               kv_cache_usage=self._running / self.max_batch_size)

    async def shutdown(self, drain_timeout_s: float = 30.0) -> None:
        """Refuse new requests, let running ones finish for up to drain_timeout_s, then abort the rest."""
        await self._drain_and_stop(drain_timeout_s)

    # The batch loop, on its own thread.

    def _run(self) -> None:
        while True:
            with self._cond:
                self._wait_for_work(lambda: bool(self._waiting or self._aborts) or self._stopping)
                self._apply_aborts([])
                if self._stopping and not self._waiting:
                    return
                batch = [self._waiting.popleft() for _ in range(min(self.max_batch_size, len(self._waiting)))]
                self._running = len(batch)
            if not batch:
                continue
            try:
                with torch.inference_mode():
                    self._decode(batch)
            except Exception:
                # One bad batch must not take the server down: its requests end, the loop goes on.
                log.exception("seq2seq batch failed; aborting the requests in it")
                with self._cond:
                    self._aborts.update(live.request.request_id for live in batch)
                    self._apply_aborts(batch)
            finally:
                with self._cond:
                    self._running = 0

    def _decode(self, rows: list[_Live]) -> None:
        """Encode the rows' sources once, then decode until every row has finished."""
        now = time.perf_counter()
        for live in rows:
            live.queue_time_s = now - live.arrived
        device = self.model.device
        width = max(len(live.request.prompt_token_ids) for live in rows)
        source = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)  # (B, S)
        mask = torch.zeros((len(rows), width), dtype=torch.long)  # (B, S)
        for i, live in enumerate(rows):
            ids = live.request.prompt_token_ids
            source[i, :len(ids)] = torch.tensor(ids)
            mask[i, :len(ids)] = 1
        source, mask = source.to(device), mask.to(device)
        encoded = self.model.get_encoder()(input_ids=source, attention_mask=mask)
        hidden = encoded.last_hidden_state  # (B, S, H)
        decoder_input = torch.full((len(rows), 1), self.decoder_start_token_id, dtype=torch.long, device=device)
        cache = None
        while rows:
            out = self.model(encoder_outputs=(hidden,), attention_mask=mask, decoder_input_ids=decoder_input,
                             cache=cache, use_cache=True)
            cache = out.cache
            # Sampling runs on the CPU: each row's generator is a CPU one (B×V floats are cheap to move).
            kept = self._emit(rows, out.logits[:, -1].float().cpu())
            with self._cond:
                ended = self._apply_aborts([rows[i] for i in kept])
                kept = [i for i in kept if rows[i].request.request_id not in ended]
                self._running = len(kept)
            if len(kept) < len(rows):
                index = torch.tensor(kept, dtype=torch.long, device=device)
                hidden, mask = hidden.index_select(0, index), mask.index_select(0, index)
                cache.reorder_cache(index)
            rows = [rows[i] for i in kept]
            decoder_input = torch.tensor([[live.output_token_ids[-1]] for live in rows], dtype=torch.long,
                                         device=device)  # (B', 1)

    def _emit(self, rows: list[_Live], logits: torch.Tensor) -> list[int]:
        """Pick each row's next token and stream it; the indices of the rows that go on."""
        masks = [None if live.constraint is None else self._mask(live) for live in rows]
        samples = sample(logits, [live.request.params for live in rows], [live.output_token_ids for live in rows],
                         [live.generator for live in rows], masks if any(masks) else None)
        kept, failed = [], []
        for i, (live, smp) in enumerate(zip(rows, samples)):
            error = smp.error
            if error is None and live.constraint is not None:
                try:
                    live.constraint.advance(smp.token_id)
                except Exception as e:  # the constraint's own failure ends its request only
                    error = e
            if error is not None:
                log.error("request %s: its token constraint failed (%s); aborting it", live.request.request_id, error)
                failed.append(live.request.request_id)
                kept.append(i)  # aborted right after, with the lock held
                continue
            live.output_token_ids.append(smp.token_id)
            reason = self._finish_reason(live, smp.token_id)
            first = len(live.output_token_ids) == 1
            event = TokenEvent(live.request.request_id, smp.token_id, smp.logprob, smp.top_logprobs, reason,
                               len(live.request.prompt_token_ids), len(live.output_token_ids),
                               live.queue_time_s if first else None)
            if reason is None:
                kept.append(i)
                self._deliver(live, event)
            else:
                with self._cond:
                    self._finish(live, event)
        if failed:
            with self._cond:
                self._aborts.update(failed)
        return kept

    def _mask(self, live: _Live):
        remaining = min(live.request.params.max_tokens, self.max_context) - len(live.output_token_ids)
        return lambda row: live.constraint.allowed(row, remaining)

    def _finish_reason(self, live: _Live, token_id: int) -> FinishReason | None:
        p = live.request.params
        if (token_id in self.eos_token_ids and not p.ignore_eos) or token_id in p.stop_token_ids:
            return "stop"
        if len(live.output_token_ids) >= min(p.max_tokens, self.max_context):
            return "length"
        return None

    def _apply_aborts(self, rows: list[_Live]) -> set[str]:
        """With the lock held: end the waiting requests and those of `rows` whose abort was asked for.

        Returns the ids of the requests it ended.
        """
        ended = set()
        running = {id(live) for live in rows}
        for request_id in list(self._aborts):
            live = self._live.get(request_id)
            if live is None:
                self._aborts.discard(request_id)
                continue
            if live in self._waiting:
                self._waiting.remove(live)
            elif id(live) not in running:
                continue  # in the batch being decoded: ended by that batch's next check
            self._aborts.discard(request_id)
            ended.add(request_id)
            first = not live.output_token_ids
            self._finish(live, TokenEvent(request_id, ABORT_TOKEN_ID, finish_reason="abort",
                                          prompt_tokens=len(live.request.prompt_token_ids),
                                          completion_tokens=len(live.output_token_ids),
                                          queue_time_s=live.queue_time_s if first else None))
        return ended

    def _finish(self, live: _Live, event: TokenEvent) -> None:
        """With the lock held: send a request's last event and forget it."""
        self._live.pop(live.request.request_id, None)
        self._deliver(live, event)


def load_seq2seq_engine(model_path: str, *, device: str = "auto", dtype: str = "auto", max_batch_size: int = 16,
                        max_queue: int = 256) -> tuple[Seq2SeqEngine, PreTrainedTokenizerBase]:
    """(engine, tokenizer) for the encoder-decoder model in `model_path`, in the serving dtype (see factory)."""
    from lmstack.hardware.device import resolve_device, resolve_threads
    from lmstack.models.loading import load_config, load_model, model_kind, resolve_model_folder
    from lmstack.serve.engine.factory import serving_dtype

    folder = resolve_model_folder(model_path)
    config = load_config(folder)
    if not getattr(config, "is_encoder_decoder", False) or model_kind(config) != "seq2seq":
        raise UserError(f"{model_path!r} is not an encoder-decoder model (a {model_kind(config)} model)",
                        hint="serve it with kind causal or embedding, or pass a seq2seq-* model folder")
    if resolve_device(device).type == "cpu":
        resolve_threads("auto")
    model, tokenizer = load_model(folder, device=device, dtype=serving_dtype(dtype, device))
    if tokenizer is None or tokenizer.eos_token_id is None:
        raise UserError(f"{model_path!r} has no tokenizer with an EOS token",
                        hint="save the tokenizer next to the model; every folder lmstack writes has one")
    return Seq2SeqEngine(model, model_name=folder.name, max_batch_size=max_batch_size,
                         max_queue=max_queue), tokenizer
