"""What chat and completions share: prompt tokens, sampling params, collecting or streaming choices."""

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

from lmstack.serve.engine.base import SamplingParams
from lmstack.serve.engine.json_constraint import TokenBytes
from lmstack.serve.errors import APIError, error_json
from lmstack.serve.registry import ServedModel
from lmstack.serve.services import Services
from lmstack.serve.textgen import ChoiceDelta, TokenInfo, merge_choices, open_choices

log = logging.getLogger(__name__)

# Tokens that end an assistant turn in the common chat formats (ChatML, Llama 3, Phi), besides eos.
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>")
DISCONNECT_POLL_S = 0.1


def stop_token_ids(tokenizer: Any) -> tuple[int, ...]:
    vocab = tokenizer.get_vocab()
    ids = {vocab[t] for t in END_OF_TURN_TOKENS if t in vocab}
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return tuple(sorted(ids))


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
    return SamplingParams(
        max_tokens=max_tokens, temperature=body.temperature, top_p=body.top_p, top_k=body.top_k, seed=body.seed,
        presence_penalty=body.presence_penalty, frequency_penalty=body.frequency_penalty,
        logit_bias=logit_bias(body.logit_bias, len(served.tokenizer)), logprobs=logprobs,
        stop_token_ids=stop_token_ids(served.tokenizer), ignore_eos=body.ignore_eos,
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
    choices = await open_choices(served.engine, served.tokenizer, request_id, prompts, params, stops, n)
    request.state.prompt_tokens = sum(len(p) for p in prompts)  # charged once the engine took the request
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
