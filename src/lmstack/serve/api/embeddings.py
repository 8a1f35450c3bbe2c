"""POST /v1/embeddings."""

from __future__ import annotations

import base64
import struct

import anyio
from fastapi import APIRouter, Depends, Request

from lmstack.hardware.openmp import release_openmp_workers
from lmstack.serve.api.deps import get_services, log_ignored, reserve_tokens
from lmstack.serve.errors import APIError
from lmstack.serve.images import decode_image, is_image_data_url
from lmstack.serve.protocol import EmbeddingData, EmbeddingRequest, EmbeddingResponse, Usage
from lmstack.serve.services import Services

router = APIRouter(tags=["embeddings"])
MAX_INPUTS = 256


@router.post("/v1/embeddings", response_model=EmbeddingResponse)
async def create_embeddings(body: EmbeddingRequest, request: Request, services: Services = Depends(get_services)):
    """Embed texts (inputs longer than the model's limit are truncated, as OpenAI's are not: see max_input_tokens).

    Models that accept images (CLIP checkpoints with an image processor) also take base64
    `data:image/png|jpeg|webp;base64,...` strings as images; no URL is ever fetched.
    """
    model = services.registry.embedder(body.model)
    log_ignored("embeddings", body.ignored_fields())
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts or len(texts) > MAX_INPUTS:
        raise APIError(400, f"input must hold 1..{MAX_INPUTS} texts", param="input", code="invalid_value")
    request.state.model = body.model
    if getattr(model, "accepts_images", False) and any(is_image_data_url(t) for t in texts):
        texts = await anyio.to_thread.run_sync(_decode_images, texts)
    tokens = await anyio.to_thread.run_sync(model.count_tokens, texts)
    await reserve_tokens(services, request, tokens)
    request.state.prompt_tokens = tokens
    vectors = await anyio.to_thread.run_sync(_embed, model, texts)
    if body.encoding_format == "base64":
        vectors = [base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() for v in vectors]
    return EmbeddingResponse(data=[EmbeddingData(index=i, embedding=v) for i, v in enumerate(vectors)],
                             model=body.model, usage=Usage(prompt_tokens=tokens, total_tokens=tokens))


def _embed(model, texts: list) -> list[list[float]]:
    """On a worker thread; its OpenMP team ends with the request, or the engines' steps would slow down."""
    try:
        return model.embed(texts)
    finally:
        release_openmp_workers()


def _decode_images(inputs: list[str]) -> list:
    return [decode_image(x, param=f"input.{i}") if is_image_data_url(x) else x for i, x in enumerate(inputs)]
