"""POST /v1/completions."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request

from lmstack.serve.api.deps import get_services, log_ignored
from lmstack.serve.api.generation import collect, max_new_tokens, sampling_params, sse, start, text_prompt
from lmstack.serve.errors import APIError
from lmstack.serve.registry import ServedModel
from lmstack.serve.protocol import Completion, CompletionChoice, CompletionLogprobs, CompletionRequest, Usage
from lmstack.serve.services import Services
from lmstack.serve.textgen import ChoiceDelta, TokenInfo

router = APIRouter(tags=["completions"])


def completion_logprobs(tokens: list[TokenInfo], offset: int) -> CompletionLogprobs:
    offsets = []
    for t in tokens:
        offsets.append(offset)
        offset += len(t.token)
    return CompletionLogprobs(tokens=[t.token for t in tokens], token_logprobs=[t.logprob for t in tokens],
                              top_logprobs=[dict(t.top) for t in tokens], text_offset=offsets)


def prompt_ids(prompt: str | list[str] | list[int], served: ServedModel) -> list[list[int]]:
    """Token ids per prompt; token-id prompts are taken as given (for seq2seq: add EOS yourself)."""
    tokenizer = served.tokenizer
    if isinstance(prompt, str):
        return [text_prompt(served, prompt)]
    if prompt and all(isinstance(p, int) for p in prompt):
        if not all(0 <= p < len(tokenizer) for p in prompt):
            raise APIError(400, "prompt holds ids outside this model's vocabulary", param="prompt",
                           code="invalid_value")
        return [list(prompt)]
    if not prompt:
        raise APIError(400, "prompt is empty", param="prompt", code="invalid_value")
    return [text_prompt(served, p) for p in prompt]


@router.post("/v1/completions", response_model=Completion)
async def create_completion(body: CompletionRequest, request: Request, services: Services = Depends(get_services)):
    """Continue a prompt (or several: choice index = prompt index × n + j).

    For a seq2seq (encoder-decoder) model the prompt is the source and the completion its target;
    `echo` then prepends the source text.
    """
    served = services.registry.generator(body.model)
    log_ignored("completions", body.ignored_fields() + (["suffix"] if body.suffix else []))
    limits = services.limits
    limits.check_n(body.n)
    stops = limits.stop_strings(body.stop)
    limits.check_logprobs(body.logprobs, "logprobs")
    prompts = prompt_ids(body.prompt, served)
    max_tokens = min(max_new_tokens(served, body.max_tokens, len(p), "prompt") for p in prompts)
    params = sampling_params(body, served, max_tokens, body.logprobs)
    rid = f"cmpl-{uuid.uuid4().hex}"
    deltas = await start(services, served, request, prompts, params, stops, body.n, rid)
    created = int(time.time())
    n_choices = len(prompts) * body.n
    skip_special = served.kind == "seq2seq"  # the source's EOS is not part of its text
    echoes = [served.tokenizer.decode(prompts[i // body.n], skip_special_tokens=skip_special) if body.echo else ""
              for i in range(n_choices)]
    prompt_tokens = sum(len(p) for p in prompts)

    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return sse(_chunks(deltas, rid, created, body, echoes, prompt_tokens, include_usage))

    results = await collect(deltas, request, n_choices)
    completion_tokens = sum(r.completion_tokens for r in results)
    return Completion(
        id=rid, created=created, model=body.model,
        choices=[CompletionChoice(index=i, text=echoes[i] + r.text, finish_reason=r.finish_reason,
                                  logprobs=None if body.logprobs is None
                                  else completion_logprobs(r.tokens, len(echoes[i])))
                 for i, r in enumerate(results)],
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                    total_tokens=prompt_tokens + completion_tokens),
    )


async def _chunks(deltas: AsyncIterator[ChoiceDelta], rid: str, created: int, body: CompletionRequest,
                  echoes: list[str], prompt_tokens: int, include_usage: bool) -> AsyncIterator[dict]:
    # Plain dicts in the `Completion` schema: one per streamed token, so no pydantic round trip.
    def chunk(choices: list[dict], usage: Usage | None = None) -> dict:
        out = {"id": rid, "object": "text_completion", "created": created, "model": body.model, "choices": choices}
        if usage is not None:
            out["usage"] = usage.model_dump()
        return out

    def choice(index: int, text: str, finish_reason: str | None, logprobs: CompletionLogprobs | None = None) -> dict:
        return {"index": index, "text": text, "logprobs": None if logprobs is None else logprobs.model_dump(),
                "finish_reason": finish_reason}

    offsets = [len(e) for e in echoes]
    for i, echo in enumerate(echoes):
        if echo:
            yield chunk([choice(i, echo, None)])
    completion = [0] * len(echoes)
    async for d in deltas:
        completion[d.index] = d.completion_tokens
        if not d.text and d.finish_reason is None and not d.tokens:
            continue
        lp = None if body.logprobs is None else completion_logprobs(d.tokens, offsets[d.index])
        offsets[d.index] += len(d.text)
        yield chunk([choice(d.index, d.text, d.finish_reason, lp)])
    if include_usage:
        total = sum(completion)
        yield chunk([], Usage(prompt_tokens=prompt_tokens, completion_tokens=total,
                              total_tokens=prompt_tokens + total))
