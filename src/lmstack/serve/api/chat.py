"""POST /v1/chat/completions."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request

from lmstack.serve.api.deps import get_services, log_ignored
from lmstack.serve.api.generation import (
    chat_prompt,
    check_json,
    collect,
    max_new_tokens,
    sampling_params,
    sse,
    start,
    with_json_object,
)
from lmstack.serve.errors import APIError
from lmstack.serve.protocol import (
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    ChatLogprobs,
    TokenLogprob,
    TopLogprob,
    Usage,
)
from lmstack.serve.services import Services
from lmstack.serve.textgen import ChoiceDelta, TokenInfo

router = APIRouter(tags=["chat"])


def chat_logprobs(tokens: list[TokenInfo]) -> ChatLogprobs:
    return ChatLogprobs(content=[
        TokenLogprob(token=t.token, logprob=t.logprob, bytes=list(t.token.encode()),
                     top_logprobs=[TopLogprob(token=s, logprob=lp, bytes=list(s.encode())) for s, lp in t.top])
        for t in tokens])


@router.post("/v1/chat/completions", response_model=ChatCompletion)
async def create_chat_completion(body: ChatCompletionRequest, request: Request,
                                 services: Services = Depends(get_services)):
    """Chat with a model. json_object mode: decoding is constrained so each reply is one JSON object.

    A seq2seq (encoder-decoder) model answers the last user message alone; see /v1/models' `kind`.
    """
    served = services.registry.generator(body.model)
    log_ignored("chat", body.ignored_fields())
    limits = services.limits
    limits.check_n(body.n)
    stops = limits.stop_strings(body.stop)
    if body.top_logprobs is not None and not body.logprobs:
        raise APIError(400, "top_logprobs needs logprobs: true", param="top_logprobs", code="invalid_value")
    limits.check_logprobs(body.top_logprobs, "top_logprobs")
    messages = [{"role": m.role, "content": m.text()} for m in body.messages]
    json_mode = body.response_format is not None and body.response_format.type == "json_object"
    if json_mode and not any("json" in m["content"].lower() for m in messages):
        raise APIError(400, "response_format json_object needs the word 'JSON' in the messages, so the model "
                            "is asked for it", param="response_format", code="invalid_value")
    prompt = chat_prompt(served, messages)
    max_tokens = max_new_tokens(served, body.max_completion_tokens or body.max_tokens, len(prompt))
    params = sampling_params(body, served, max_tokens, (body.top_logprobs or 0) if body.logprobs else None)
    if json_mode:
        params = with_json_object(params, served.tokenizer)
    rid = f"chatcmpl-{uuid.uuid4().hex}"
    deltas = await start(services, served, request, [prompt], params, stops, body.n, rid)
    created = int(time.time())

    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return sse(_chunks(deltas, rid, created, body, len(prompt), include_usage, json_mode))

    results = await collect(deltas, request, body.n)
    if json_mode:
        for i, r in enumerate(results):
            check_json(r.text, i, r.finish_reason)
    completion_tokens = sum(r.completion_tokens for r in results)
    return ChatCompletion(
        id=rid, created=created, model=body.model,
        choices=[ChatChoice(index=i, message=AssistantMessage(content=r.text), finish_reason=r.finish_reason,
                            logprobs=chat_logprobs(r.tokens) if body.logprobs else None)
                 for i, r in enumerate(results)],
        usage=Usage(prompt_tokens=len(prompt), completion_tokens=completion_tokens,
                    total_tokens=len(prompt) + completion_tokens),
    )


async def _chunks(deltas: AsyncIterator[ChoiceDelta], rid: str, created: int, body: ChatCompletionRequest,
                  prompt_tokens: int, include_usage: bool, json_mode: bool) -> AsyncIterator[dict]:
    # Plain dicts in the `ChatCompletionChunk` schema (None fields left out, finish_reason always there):
    # one per streamed token, so no pydantic round trip.
    def chunk(choices: list[dict], usage: Usage | None = None) -> dict:
        out = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": body.model,
               "choices": choices}
        if usage is not None:
            out["usage"] = usage.model_dump()
        return out

    def choice(index: int, delta: dict, finish_reason: str | None = None, tokens: list[TokenInfo] | None = None
               ) -> dict:
        out = {"index": index, "delta": delta}
        if tokens is not None:
            out["logprobs"] = chat_logprobs(tokens).model_dump(exclude_none=True)
        out["finish_reason"] = finish_reason
        return out

    yield chunk([choice(i, {"role": "assistant", "content": ""}) for i in range(body.n)])
    texts = [""] * body.n
    completion = [0] * body.n
    async for d in deltas:
        texts[d.index] += d.text
        completion[d.index] = d.completion_tokens
        if not d.text and d.finish_reason is None and not d.tokens:
            continue
        if d.finish_reason is not None and json_mode:
            check_json(texts[d.index], d.index, d.finish_reason)
        yield chunk([choice(d.index, {"content": d.text} if d.text else {}, d.finish_reason,
                            d.tokens if body.logprobs else None)])
    if include_usage:
        total = sum(completion)
        yield chunk([], Usage(prompt_tokens=prompt_tokens, completion_tokens=total,
                              total_tokens=prompt_tokens + total))
