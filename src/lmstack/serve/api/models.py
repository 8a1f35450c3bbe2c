"""GET /v1/models."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from lmstack.serve.api.deps import get_services
from lmstack.serve.protocol import ModelCard, ModelList
from lmstack.serve.services import Services

router = APIRouter(tags=["models"])


@router.get("/v1/models", response_model=ModelList)
async def list_models(services: Services = Depends(get_services)) -> ModelList:
    reg = services.registry
    return ModelList(data=[ModelCard(id=name, max_model_len=m.engine.max_context, kind=m.kind)
                           for name, m in reg.generators.items()]
                     + [ModelCard(id=name, max_model_len=e.max_input_tokens, kind="embedding")
                        for name, e in reg.embedders.items()])
