"""GET /metrics: Prometheus text format."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from lmstack.serve.api.deps import get_services
from lmstack.serve.services import Services

router = APIRouter(tags=["metrics"])


@router.get("/metrics")
async def metrics(services: Services = Depends(get_services)) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
