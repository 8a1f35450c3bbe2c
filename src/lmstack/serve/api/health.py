"""GET /health: open to everyone (no key), 200 while serving, 503 while draining."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from lmstack.serve.api.deps import get_services
from lmstack.serve.services import Services

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(services: Services = Depends(get_services)) -> JSONResponse:
    if services.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    return JSONResponse({"status": "ok"})
