"""The per-token rate limit with its windows in Redis, shared by every process (store.RateLimiter).

Keys (P the prefix): P:ratelimit:ID, a hash of start (ms) and count that expires with its
window. Windows run on Redis's clock, so processes whose clocks differ share one window.
"""

from __future__ import annotations

import math
from typing import Optional

import redis

from ..ratelimit import RateLimit, Refusal
from . import scripts
from .client import unavailable_on_failure


class RedisRateLimiter:
    """ratelimit.RateLimiter's interface with its windows in Redis, shared by processes."""

    def __init__(
        self, limit: Optional[RateLimit], client: redis.Redis, prefix: str
    ) -> None:
        self.limit = limit
        self.prefix = prefix
        self._count = client.register_script(scripts.RATE)

    def check(self, key: str) -> Optional[Refusal]:
        """Count one request for key; a Refusal when it is over the limit."""
        if self.limit is None:
            return None
        window_ms = self.limit.seconds * 1000
        with unavailable_on_failure("the rate limit"):
            start, count, now = self._count(
                keys=[f"{self.prefix}:ratelimit:{key}"], args=[window_ms]
            )
        if count <= self.limit.requests:
            return None
        reset_at = (start + window_ms) / 1000
        return Refusal(reset_at, max(1, math.ceil(reset_at - now / 1000)))
