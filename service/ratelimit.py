"""A per-token rate limit: N requests per window of S seconds; windows counted in memory."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

# What check_from_memory answers when only the store can tell (redis/ratelimit.py).
ASK_STORE: Any = object()

_LIMIT = re.compile(r"([1-9][0-9]*)/([0-9]+(?:\.[0-9]+)?)")


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` per window of `seconds`, per token."""

    requests: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Optional[RateLimit]:
        """`100/10` is 100 requests per 10 seconds; `off` is no limit."""
        if text.strip().lower() == "off":
            return None
        match = _LIMIT.fullmatch(text.strip())
        if not match or float(match.group(2)) <= 0:
            raise ValueError(
                f'rate limit "{text}" is not N/SECONDS (like 100/10) or "off"'
            )
        return cls(int(match.group(1)), float(match.group(2)))

    def __str__(self) -> str:
        return f"{self.requests} requests per {self.seconds:g} s"


@dataclass(frozen=True)
class Refusal:
    """A request over the limit: when (epoch seconds) the window resets."""

    reset_at: float
    retry_after: int  # whole seconds, rounded up

    def message(self, limit: Optional[RateLimit]) -> str:
        """The 429's sentence."""
        return (
            f"rate limit of {limit} for this access token reached; retry in "
            f"{self.retry_after} s (X-Ratelimit-Reset)"
        )

    def headers(self) -> dict[str, str]:
        """X-Ratelimit-Reset (epoch milliseconds, as SPEC says) and Retry-After."""
        return {
            "X-Ratelimit-Reset": str(int(self.reset_at * 1000)),
            "Retry-After": str(self.retry_after),
        }


class MemoryRateLimiter:
    """Fixed windows per key: a window starts at a key's first request after the last one.

    A fixed window makes the reset time exact, which is what X-Ratelimit-Reset promises.
    Keys are token ids of valid tokens only, so the table is as large as the token list.
    """

    def __init__(
        self, limit: Optional[RateLimit], clock: Callable[[], float] = time.time
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._windows: dict[str, list[float]] = {}  # key -> [window start, count]
        self._lock = threading.Lock()

    def check(self, key: str) -> Optional[Refusal]:
        """Count one request for key; a Refusal when it is over the limit."""
        if self.limit is None:
            return None
        now = self._clock()
        with self._lock:
            window = self._windows.get(key)
            if window is None or now >= window[0] + self.limit.seconds:
                window = self._windows[key] = [now, 0]
            window[1] += 1
            if window[1] <= self.limit.requests:
                return None
            reset_at = window[0] + self.limit.seconds
        return Refusal(reset_at, max(1, math.ceil(reset_at - now)))

    def check_from_memory(self, key: str) -> Optional[Refusal]:
        """check: every window is in memory here, so never ASK_STORE."""
        return self.check(key)
