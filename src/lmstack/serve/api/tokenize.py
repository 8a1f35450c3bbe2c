"""POST /tokenize and /detokenize (vLLM's extras): see exactly what a model receives."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from lmstack.serve.api.deps import get_services, log_ignored
from lmstack.serve.api.generation import chat_prompt, text_prompt
from lmstack.serve.errors import APIError
from lmstack.serve.protocol import DetokenizeRequest, TokenizeRequest
from lmstack.serve.services import Services

router = APIRouter(tags=["tokenize"])


@router.post("/tokenize")
async def tokenize(body: TokenizeRequest, services: Services = Depends(get_services)) -> dict:
    served = services.registry.generator(body.model)
    log_ignored("tokenize", body.ignored_fields())
    if (body.prompt is None) == (body.messages is None):
        raise APIError(400, "give exactly one of prompt or messages", param="prompt", code="invalid_value")
    if body.messages is not None:
        ids = chat_prompt(served, [{"role": m.role, "content": m.text()} for m in body.messages])
    else:
        ids = text_prompt(served, body.prompt)
    return {"tokens": ids, "count": len(ids), "max_model_len": served.engine.max_context}


@router.post("/detokenize")
async def detokenize(body: DetokenizeRequest, services: Services = Depends(get_services)) -> dict:
    served = services.registry.generator(body.model)
    if not all(0 <= t < len(served.tokenizer) for t in body.tokens):
        raise APIError(400, "tokens holds ids outside this model's vocabulary", param="tokens", code="invalid_value")
    return {"prompt": served.tokenizer.decode(body.tokens)}
