"""What chat and completions share: prompt tokens, sampling params, collecting or streaming choices.

Prompts by model kind (`ServedModel.kind`):

- causal: a completion prompt is encoded as is; a chat goes through the model's chat template.
- seq2seq (encoder-decoder, e.g. a Marian model from the seq2seq recipe): the prompt is the
  encoder's source, encoded as the recipe trains it (tokens, then EOS); a chat's source is its
  LAST USER MESSAGE alone. Such models learn from single (source, target) pairs, so a rendered
  conversation with role markers would be input they never saw; earlier turns and system prompts
  are ignored. The source may fill the model's context, and max_tokens may too (the decoder has
  positions of its own).

Before a request reaches the engine, its worst case (prompt tokens + max_tokens for each choice)
is reserved against the key's daily token quota (`lmstack.serve.quota.TokenReservations`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from lmstack.models.tokenizer import stop_token_ids
from lmstack.serve.api.deps import reserve_tokens
from lmstack.serve.engine.base import SamplingParams
from lmstack.serve.engine.json_constraint import TokenBytes
from lmstack.serve.engine.seq2seq_engine import source_ids
from lmstack.serve.errors import APIError, error_json
from lmstack.serve.limits import clamp_max_tokens
from lmstack.serve.registry import ServedModel
from lmstack.serve.services import Services
from lmstack.serve.textgen import ChoiceDelta, TokenInfo, merge_choices, open_choices

log = logging.getLogger(__name__)

DISCONNECT_POLL_S = 0.1


def render_chat(tokenizer: Any, messages: list[dict]) -> list[int]:
    """The conversation through the model's own chat template, ending with the assistant's header."""
    if not getattr(tokenizer, "chat_template", None):
        raise APIError(400, "this model has no chat template; use /v1/completions", param="messages",
                       code="no_chat_template")
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception as e:  # jinja raises whatever the template's author chose
        raise APIError(400, f"the chat template rejected the messages: {e}", param="messages",
                       code="invalid_messages") from e
    return tokenizer.encode(text, add_special_tokens=False)


def chat_prompt(served: ServedModel, messages: list[dict]) -> list[int]:
    """Prompt ids of a conversation: the chat template (causal) or the last user message (seq2seq)."""
    if served.kind != "seq2seq":
        return render_chat(served.tokenizer, messages)
    users = [m["content"] for m in messages if m["role"] == "user"]
    if not users:
        raise APIError(400, "a seq2seq model answers the last user message, and there is none", param="messages",
                       code="invalid_messages")
    return source_ids(served.tokenizer, users[-1])


def text_prompt(served: ServedModel, text: str) -> list[int]:
    """Prompt ids of a text: as is (causal) or as an encoder source ending with EOS (seq2seq)."""
    if served.kind == "seq2seq":
        return source_ids(served.tokenizer, text)
    return served.tokenizer.encode(text, add_special_tokens=False)


def max_new_tokens(served: ServedModel, requested: int | None, prompt_tokens: int, param: str = "messages") -> int:
    """Tokens a request may generate: causal models share one context between prompt and reply,
    seq2seq models give each its own (the source must fit, the reply is cut at the context)."""
    context = served.engine.max_context
    if served.kind != "seq2seq":
        return clamp_max_tokens(requested, prompt_tokens, context, param)
    if prompt_tokens > context:
        raise APIError(400, f"the source has {prompt_tokens} tokens; this model's encoder takes {context}",
                       param=param, code="context_length_exceeded")
    return context if requested is None else min(requested, context)


def logit_bias(bias: dict[str, float] | None, vocab_size: int) -> dict[int, float]:
    out = {}
    for k, v in (bias or {}).items():
        if not k.lstrip("-").isdigit() or not 0 <= int(k) < vocab_size:
            raise APIError(400, f"logit_bias key {k!r} is not a token id of this model", param="logit_bias",
                           code="invalid_value")
        if not -100 <= v <= 100:
            raise APIError(400, "logit_bias values must lie in [-100, 100]", param="logit_bias",
                           code="invalid_value")
        out[int(k)] = v
    return out


def sampling_params(body: Any, served: ServedModel, max_tokens: int, logprobs: int | None) -> SamplingParams:
    """The request's sampling settings; ignore_eos (benchmarks) also ignores the end-of-turn tokens, so
    every reply runs to max_tokens."""
    return SamplingParams(
        max_tokens=max_tokens, temperature=body.temperature, top_p=body.top_p, top_k=body.top_k, seed=body.seed,
        presence_penalty=body.presence_penalty, frequency_penalty=body.frequency_penalty,
        logit_bias=logit_bias(body.logit_bias, len(served.tokenizer)), logprobs=logprobs,
        stop_token_ids=() if body.ignore_eos else tuple(stop_token_ids(served.tokenizer)), ignore_eos=body.ignore_eos,
    )


def with_json_object(params: SamplingParams, tokenizer: Any) -> SamplingParams:
    """response_format json_object: constrain decoding so the reply is one JSON object (see json_constraint)."""
    if params.max_tokens < 2:
        raise APIError(400, "response_format json_object needs max_tokens of at least 2 ('{}')",
                       param="max_tokens", code="invalid_value")
    try:
        table = TokenBytes.from_tokenizer(tokenizer)
    except ValueError as e:
        raise APIError(400, f"this model cannot do response_format json_object: {e}", param="response_format",
                       code="unsupported") from None
    return replace(params, constraint=table.json_object_factory(params.stop_token_ids))


async def start(services: Services, served: ServedModel, request: Request, prompts: list[list[int]],
                params: SamplingParams, stops: list[str], n: int, request_id: str) -> AsyncIterator[ChoiceDelta]:
    """Open n choices per prompt (choice index = prompt index × n + j) and stream their deltas."""
    started = time.perf_counter()
    request.state.model = served.name
    prompt_tokens = sum(len(p) for p in prompts)
    await reserve_tokens(services, request, prompt_tokens + len(prompts) * n * params.max_tokens)
    choices = await open_choices(served.engine, served.tokenizer, request_id, prompts, params, stops, n)
    request.state.prompt_tokens = prompt_tokens  # charged once the engine took the request
    return services.metrics.track(served.name, _count(merge_choices(choices), request), request.state.prompt_tokens,
                                  started)


async def _count(deltas: AsyncIterator[ChoiceDelta], request: Request) -> AsyncIterator[ChoiceDelta]:
    totals: dict[int, int] = {}
    async for d in deltas:
        totals[d.index] = d.completion_tokens
        request.state.completion_tokens = sum(totals.values())
        yield d


@dataclass
class ChoiceResult:
    text: str = ""
    tokens: list[TokenInfo] = field(default_factory=list)
    finish_reason: str | None = None
    completion_tokens: int = 0


async def collect(deltas: AsyncIterator[ChoiceDelta], request: Request, n_choices: int) -> list[ChoiceResult]:
    """All deltas joined per choice; if the client goes away first, the choices are aborted."""
    results = [ChoiceResult() for _ in range(n_choices)]

    async def gather() -> None:
        async for d in deltas:
            r = results[d.index]
            r.text += d.text
            r.tokens += d.tokens
            r.finish_reason = d.finish_reason or r.finish_reason
            r.completion_tokens = d.completion_tokens

    task = asyncio.create_task(gather())
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
            if not task.done() and await request.is_disconnected():
                task.cancel()
                break
        await task
    finally:
        if not task.done():
            task.cancel()
    return results


def check_json(text: str, index: int, finish_reason: str | None) -> None:
    """response_format json_object: decoding is constrained, so only an aborted choice can fail this."""
    try:
        if isinstance(json.loads(text), dict):
            return
    except ValueError:
        pass
    raise APIError(500, f"choice {index} ended ({finish_reason}) before its JSON object was complete",
                   param="response_format", code="invalid_json_output")


def sse(events: AsyncIterator[dict]) -> StreamingResponse:
    """Server-sent events: `data: {json}` per event, then `data: [DONE]`; an error becomes its own event."""

    async def body() -> AsyncIterator[str]:
        try:
            async for event in events:
                yield f"data: {json.dumps(event, ensure_ascii=False)}\n\n"
        except APIError as e:
            yield f"data: {json.dumps(error_json(e))}\n\n"
        except Exception:  # the status line is sent already: the error travels as the last event
            log.exception("error while streaming a response")
            yield f"data: {json.dumps(error_json(APIError(500, 'internal error; see the server log')))}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
