"""Per-key limits: requests per minute (a sliding window in memory) and tokens per UTC day (the ledger).

Both answer 429 with Retry-After: the seconds until the window lets one more request in, or until
the next UTC midnight.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from datetime import UTC, datetime, timedelta

from lmstack.serve.errors import APIError
from lmstack.serve.keys import KeyInfo
from lmstack.serve.usage import UsageLedger, start_of_day

WINDOW_S = 60.0


class RateLimiter:
    """Sliding one-minute window per key. In-process: each server replica limits on its own."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._hits: dict[int, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, key: KeyInfo) -> None:
        if key.requests_per_minute is None:
            return
        now = self.clock()
        with self._lock:
            hits = self._hits[key.id]
            while hits and hits[0] <= now - WINDOW_S:
                hits.popleft()
            if len(hits) >= key.requests_per_minute:
                retry = max(1, math.ceil(hits[0] + WINDOW_S - now))
                raise APIError(429, f"rate limit of {key.requests_per_minute} requests per minute reached",
                               code="rate_limit_exceeded", retry_after_s=retry)
            hits.append(now)


def check_daily_tokens(ledger: UsageLedger, key: KeyInfo, now: datetime | None = None) -> None:
    if key.tokens_per_day is None:
        return
    now = now or datetime.now(UTC)
    midnight = start_of_day(now)
    used = ledger.tokens_since(key.id, midnight)
    if used >= key.tokens_per_day:
        retry = max(1, math.ceil((midnight + timedelta(days=1) - now).total_seconds()))
        raise APIError(429, f"daily quota of {key.tokens_per_day} tokens used up ({used})",
                       code="quota_exceeded", retry_after_s=retry)
