"""Dependencies the routers share: the services, and the API-key check."""

from __future__ import annotations

import logging

import anyio
from fastapi import Depends, Request

from lmstack.serve.errors import APIError
from lmstack.serve.quota import check_daily_tokens
from lmstack.serve.services import Services

log = logging.getLogger(__name__)


def get_services(request: Request) -> Services:
    return request.app.state.services


async def require_key(request: Request, services: Services = Depends(get_services)) -> None:
    """Once any key exists, every route but /health needs `Authorization: Bearer <key>`.

    Then the key's rate limit and daily token quota apply (429 with Retry-After).
    """
    if services.keys is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        key = await anyio.to_thread.run_sync(services.keys.verify, secret.strip())
    else:
        key = None
    if key is None:
        if not await anyio.to_thread.run_sync(services.keys.any_active):
            return
        raise APIError(401, "a valid API key is required: send 'Authorization: Bearer <key>'",
                       code="invalid_api_key")
    request.state.key_id = key.id
    request.state.key = key
    services.rate_limiter.check(key)
    if services.ledger is not None:
        await anyio.to_thread.run_sync(check_daily_tokens, services.ledger, key)


async def reserve_tokens(services: Services, request: Request, tokens: int) -> None:
    """Hold a request's worst-case tokens against its key's daily quota (429 if they do not fit).

    The middleware releases them once the request's ledger row is written.
    """
    key = getattr(request.state, "key", None)
    if key is None or services.ledger is None or key.tokens_per_day is None:
        return
    held = await anyio.to_thread.run_sync(services.reservations.reserve, services.ledger, key, tokens)
    request.state.reserved_tokens = getattr(request.state, "reserved_tokens", 0) + held


def log_ignored(route: str, names: list[str]) -> None:
    if names:
        log.warning("%s: ignoring fields lmstack does not honour: %s", route, ", ".join(names))
