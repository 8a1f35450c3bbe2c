"""ASGI middleware that wraps every route: body-size cap, refusal while draining, usage ledger.

It also releases a request's token reservation (`lmstack.serve.quota.TokenReservations`), after
its ledger row is written.

Pure ASGI rather than `BaseHTTPMiddleware`, so a streamed response is ledgered only once its last
chunk went out (with its final token counts), and a body is refused as soon as it grows too big.
"""

from __future__ import annotations

import logging
import time

import anyio
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lmstack.serve.errors import error_response
from lmstack.serve.services import Services
from lmstack.serve.usage import UsageRecord

log = logging.getLogger(__name__)

UNMETERED = ("/health", "/metrics", "/docs", "/openapi.json")


class _BodyTooLarge(HTTPException):
    """An HTTPException so FastAPI's body parser re-raises it (it turns other errors into 400)."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than {limit} bytes")


class ServeMiddleware:
    def __init__(self, app: ASGIApp, services: Services):
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if self.services.draining and path != "/health":
            await error_response(503, "the server is draining before it stops", code="shutting_down")(
                scope, receive, send)
            return
        limit = self.services.limits.max_body_bytes
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _BodyTooLarge(limit)
            return message

        status = 500
        started = False

        async def send_status(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        state = scope.setdefault("state", {})
        t0 = time.perf_counter()
        try:
            await self.app(scope, capped_receive, send_status)
        except _BodyTooLarge:
            if started:
                raise
            await _too_large(limit)(scope, receive, send_status)
        finally:
            if self.services.ledger is not None and not path.startswith(UNMETERED):
                rec = UsageRecord(key_id=state.get("key_id"), route=path[:64], model=state.get("model"),
                                  prompt_tokens=state.get("prompt_tokens", 0),
                                  completion_tokens=state.get("completion_tokens", 0),
                                  latency_ms=int((time.perf_counter() - t0) * 1000), status=status)
                with anyio.CancelScope(shield=True):
                    try:
                        await anyio.to_thread.run_sync(self.services.ledger.record, rec)
                    finally:  # only now: until its row is written, the reservation stands for it
                        self.services.reservations.release(state.get("key_id"), state.get("reserved_tokens", 0))


def _too_large(limit: int):
    return error_response(413, f"the request body is larger than {limit} bytes", code="body_too_large")
