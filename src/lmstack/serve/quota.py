"""Per-key limits: requests per minute (a sliding window in memory) and tokens per UTC day (the ledger).

Both answer 429 with Retry-After: the seconds until the window lets one more request in, or until
the next UTC midnight.

The ledger holds finished requests only, so checking it alone would let requests in flight
overshoot a quota together. `TokenReservations` closes that gap: at admission a request reserves
its worst case (prompt tokens + max_tokens for every choice); it is refused with 429 if the
tokens already used today, plus those reserved by requests in flight, plus its own would pass the
quota; its reservation is released once its ledger row (its real usage) is written. A client that
omits max_tokens reserves the whole rest of the context, so sending max_tokens lets more requests
run at once under a tight quota.
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


def _seconds_to_midnight(now: datetime) -> int:
    return max(1, math.ceil((start_of_day(now) + timedelta(days=1) - now).total_seconds()))


class TokenReservations:
    """Tokens held by requests in flight, per key. In-process: each server replica reserves on its own.

    One lock covers reading the ledger and adding a reservation, and releasing one, so a request
    finishing meanwhile is counted once or twice (its ledger row, its reservation), never zero times.
    """

    def __init__(self) -> None:
        self._held: dict[int, int] = defaultdict(int)
        self._lock = threading.Lock()

    def held(self, key_id: int) -> int:
        with self._lock:
            return self._held.get(key_id, 0)

    def reserve(self, ledger: UsageLedger, key: KeyInfo, tokens: int, now: datetime | None = None) -> int:
        """Hold `tokens` for `key`, or raise a 429 APIError; the tokens held (0 for a key without a quota)."""
        if key.tokens_per_day is None:
            return 0
        now = now or datetime.now(UTC)
        with self._lock:
            used = ledger.tokens_since(key.id, start_of_day(now))
            held = self._held.get(key.id, 0)
            if used + held + tokens > key.tokens_per_day:
                left = max(0, key.tokens_per_day - used - held)
                # Fits once the requests in flight are done (they may use less than they hold): retry soon.
                retry = 1 if used + tokens <= key.tokens_per_day and held else _seconds_to_midnight(now)
                raise APIError(429, f"this request may use up to {tokens} tokens (prompt + max_tokens for each "
                                    f"choice), more than the {left} left of the key's daily quota of "
                                    f"{key.tokens_per_day} ({used} used, {held} held by requests in flight); "
                                    "lower max_tokens or retry later", code="quota_exceeded", retry_after_s=retry)
            self._held[key.id] = held + tokens
        return tokens

    def release(self, key_id: int, tokens: int) -> None:
        if not tokens:
            return
        with self._lock:
            left = self._held.get(key_id, 0) - tokens
            if left > 0:
                self._held[key_id] = left
            else:
                self._held.pop(key_id, None)


def check_daily_tokens(ledger: UsageLedger, key: KeyInfo, now: datetime | None = None) -> None:
    if key.tokens_per_day is None:
        return
    now = now or datetime.now(UTC)
    midnight = start_of_day(now)
    used = ledger.tokens_since(key.id, midnight)
    if used >= key.tokens_per_day:
        raise APIError(429, f"daily quota of {key.tokens_per_day} tokens used up ({used})",
                       code="quota_exceeded", retry_after_s=_seconds_to_midnight(now))
