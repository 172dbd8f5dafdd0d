"""Where state lives: the SQLite file (the default) or a Redis URL shared by many processes.

Each backend is a sub-package holding its store, registry and rate limiter: `sqlite/`
and `redis/`, behind the Protocols of store.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, TypeGuard

from .ratelimit import MemoryRateLimiter, RateLimit
from .redis.client import APPLY_TIMEOUT, DEFAULT_PREFIX, connect
from .redis.ratelimit import RedisRateLimiter
from .redis.registry import RedisRegistry
from .redis.store import RedisSegmentStore
from .sqlite.database import Database
from .sqlite.registry import SqliteRegistry
from .sqlite.store import SqliteSegmentStore
from .store import RateLimiter, Registry, SegmentStore, Writer


@dataclass(frozen=True)
class Backend:
    """The registry, segment store and rate limiter of one place, and how to name it."""

    registry: Registry
    store: SegmentStore
    limiter: RateLimiter
    description: str


def is_redis(store_url: Optional[str]) -> TypeGuard[str]:
    return store_url is not None and store_url.startswith(("redis://", "rediss://"))


def check_store_url(store_url: Optional[str]) -> None:
    """Raise ValueError unless the URL names a store this service knows."""
    if store_url is not None and not is_redis(store_url):
        raise ValueError(
            f'store "{store_url}" is not a redis:// or rediss:// URL; leave --store '
            "out for the SQLite file of --db"
        )


def open_backend(
    db: str,
    store_url: Optional[str],
    key_prefix: str = DEFAULT_PREFIX,
    rate_limit: Optional[RateLimit] = None,
    busy_timeout: float = 5.0,
) -> Backend:
    """Everything in SQLite at db, or everything in Redis at store_url under key_prefix."""
    check_store_url(store_url)
    if is_redis(store_url):
        client = connect(store_url)
        return Backend(
            RedisRegistry(client, key_prefix),
            RedisSegmentStore(client, key_prefix, connect(store_url, APPLY_TIMEOUT)),
            RedisRateLimiter(rate_limit, client, key_prefix),
            f"{redact(store_url)} (key prefix {key_prefix})",
        )
    database = Database(db, busy_timeout)
    return Backend(
        SqliteRegistry(database),
        SqliteSegmentStore(database),
        MemoryRateLimiter(rate_limit),
        db,
    )


def writer_for(store: SegmentStore) -> Writer:
    """The writer of a store's backend: group commit on SQLite, pipelines on Redis."""
    # imported here: the CLI's commands open backends and never write through a writer
    from .redis.writer import PipelineWriter
    from .sqlite.writer import GroupWriter

    if isinstance(store, SqliteSegmentStore):
        return GroupWriter(store)
    if isinstance(store, RedisSegmentStore):
        return PipelineWriter(store)
    raise TypeError(f"no writer for {type(store).__name__}")


def redact(url: str) -> str:
    """A Redis URL as logs may show it: without a password."""
    scheme, _, rest = url.partition("://")
    if "@" not in rest:
        return url
    return f"{scheme}://***@{rest.split('@', 1)[1]}"
