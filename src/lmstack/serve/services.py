"""What the routers depend on, built once per app and injected (tests override pieces)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lmstack.serve.keys import KeyStore
from lmstack.serve.limits import Limits
from lmstack.serve.metrics import ServeMetrics
from lmstack.serve.quota import RateLimiter, TokenReservations
from lmstack.serve.registry import ModelRegistry
from lmstack.serve.usage import UsageLedger


@dataclass
class Services:
    registry: ModelRegistry
    limits: Limits
    metrics: ServeMetrics
    keys: KeyStore | None = None  # None: no database, so no auth and no ledger
    ledger: UsageLedger | None = None
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)
    reservations: TokenReservations = field(default_factory=TokenReservations)
    draining: bool = False
