"""The per-token rate limit with its windows in Redis, shared by every process (store.RateLimiter).

Keys (P the prefix): P:ratelimit:ID, a hash of start (ms) and count that expires with its
window. Windows run on Redis's clock, so processes whose clocks differ share one window.

A process does not ask Redis for every request: it takes a lease of requests (see
scripts.RATE_LEASE) and answers from memory until the lease is spent, and it remembers a
refusal until its window ends. Far from the limit most answers come from memory; near
it leases are one request each, so N processes together never let more than the limit
through. What a lease held when its window ended was never used: a token spread over
many processes may then get slightly fewer than the limit, never more.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

import redis

from ..ratelimit import ASK_STORE, RateLimit, Refusal
from . import scripts
from .client import unavailable_on_failure


@dataclass
class _Lease:
    ends_at: float  # epoch seconds on this host's clock
    left: int  # requests this process may still let through in the window
    reset_at: float  # the window's end on Redis's clock, as X-Ratelimit-Reset says
    refused: bool  # Redis granted none: the window is full until it ends


class RedisRateLimiter:
    """Fixed windows per token in Redis, answered from leases held in memory."""

    def __init__(
        self, limit: Optional[RateLimit], client: redis.Redis, prefix: str
    ) -> None:
        self.limit = limit
        self.prefix = prefix
        self._lease = client.register_script(scripts.RATE_LEASE)
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()

    def check_from_memory(self, key: str) -> Any:
        """None or a Refusal from this process's lease; ASK_STORE when it has none."""
        if self.limit is None:
            return None
        now = time.time()
        with self._lock:
            lease = self._leases.get(key)
            if lease is None or now >= lease.ends_at:
                return ASK_STORE
            if lease.left > 0:
                lease.left -= 1
                return None
            if not lease.refused:
                return ASK_STORE  # spent: ask for another lease
        return Refusal(lease.reset_at, max(1, math.ceil(lease.ends_at - now)))

    def check(self, key: str) -> Optional[Refusal]:
        """Count one request for key; a Refusal when it is over the limit."""
        answer = self.check_from_memory(key)
        if answer is not ASK_STORE:
            known: Optional[Refusal] = answer
            return known
        assert self.limit is not None
        window_ms = self.limit.seconds * 1000
        with unavailable_on_failure("the rate limit"):
            start, granted, now_ms = self._lease(
                keys=[f"{self.prefix}:ratelimit:{key}"],
                args=[window_ms, self.limit.requests],
            )
        remaining = (start + window_ms - now_ms) / 1000  # seconds left in the window
        reset_at = (start + window_ms) / 1000
        lease = _Lease(
            time.time() + remaining, max(0, granted - 1), reset_at, granted == 0
        )
        with self._lock:
            self._leases[key] = lease
        if granted > 0:
            return None
        return Refusal(reset_at, max(1, math.ceil(remaining)))
