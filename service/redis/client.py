"""A Redis connection with timeouts, and Redis failures as StoreUnavailable (a 503)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..store import StoreUnavailable

DEFAULT_PREFIX = "launchdarkly"
CONNECT_TIMEOUT = 2.0  # seconds: a Redis that is down answers 503 at once, not a hang
# Reads, tokens and the rate limit are quick; a Redis busy past its lua-time-limit (5 s)
# answers BUSY at once, so a slower reply is a Redis that hangs.
QUICK_TIMEOUT = 8.0
# A million-member request runs for seconds inside Redis: syncs wait this long.
APPLY_TIMEOUT = 60.0

# Reply words of Redis that mean "cannot serve now", not "the script is wrong".
UNAVAILABLE_REPLIES = ("BUSY", "LOADING", "MISCONF", "MASTERDOWN", "TRYAGAIN", "OOM")


def connect(url: str, timeout: float = QUICK_TIMEOUT) -> redis.Redis:
    """A client with timeouts, so that a Redis that is down or hangs is a 503, not a hang."""
    try:
        return redis.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=timeout,
            # One immediate retry: a pooled connection from before a Redis restart is
            # stale. Not after a timeout, which would double the wait.
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            health_check_interval=30,
        )
    except ValueError as error:
        raise StoreUnavailable(f"bad Redis URL {url!r}: {error}") from None


@contextmanager
def unavailable_on_failure(what: str) -> Iterator[None]:
    """Redis down, timed out, loading, out of memory: StoreUnavailable, never a 500."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as error:
        raise StoreUnavailable(f"Redis unreachable during {what}: {error}") from None
    except redis.ResponseError as error:
        if str(error).startswith(UNAVAILABLE_REPLIES) or isinstance(
            error, (redis.exceptions.ReadOnlyError, redis.exceptions.OutOfMemoryError)
        ):
            raise StoreUnavailable(f"Redis refused {what}: {error}") from None
        raise


def text(value: bytes | str) -> str:
    """A Redis reply as text (replies are bytes here: no decode_responses)."""
    return value.decode() if isinstance(value, bytes) else value
