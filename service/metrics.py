"""The service's Prometheus metrics, served by `GET /metrics` in the text format.

Call sites are one line each: the request log observes every request (observe_request,
observe_sync), the ingest route the store's work (observe_apply), the places that answer
429 and 503 (rate_limited, store_error), and a group-committing writer each batch it
commits (observe_commit_batch).

Labels take bounded values only, so that no caller can grow the series without end:
route templates (never a raw path), methods, statuses, and the keys of the built
integrations (any other key counts as "unknown"). No token, environment, segment or
member ever appears in a label.

The numbers are this process's: with many processes over one Redis, scrape each one as
a target of its own and add them up in the query (`sum by (integration) (...)`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)

import generated

# no *_created series: half the text, and nothing a query uses (untyped in its package)
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry()
process_collector.ProcessCollector(registry=REGISTRY)  # CPU, memory, open files
platform_collector.PlatformCollector(registry=REGISTRY)  # the Python version
gc_collector.GCCollector(registry=REGISTRY)

INGEST_ROUTE = "/api/v2/segment-targets/{integrationKey}"
UNKNOWN = "unknown"  # an integration key that is not built, a route that is not ours
# seconds: a sync of a few members takes about a millisecond, a million about 10 s
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip

REQUESTS = Counter(
    "segment_sync_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "segment_sync_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template.",
    ["route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
SYNCS = Counter(
    "segment_sync_syncs",
    "Partner syncs (POST /api/v2/segment-targets/...) answered, by integration and "
    "status.",
    ["integration", "status"],
    registry=REGISTRY,
)
MEMBERS = Counter(
    "segment_sync_members_applied",
    "Members really added to or removed from segments by syncs (a member already in, "
    "or already out, is not counted).",
    ["integration", "change"],
    registry=REGISTRY,
)
APPLY_SECONDS = Histogram(
    "segment_sync_apply_duration_seconds",
    "Time the segment store took to apply one sync, refusals included.",
    ["integration"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
STORE_ERRORS = Counter(
    "segment_sync_store_errors",
    "Requests answered 503 because the segment store was unavailable, by route.",
    ["route"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "segment_sync_rate_limited",
    "Requests refused 429 by the per-token rate limit, by route.",
    ["route"],
    registry=REGISTRY,
)
BATCH_REQUESTS = Histogram(
    "segment_sync_commit_batch_requests",
    "Syncs committed together by one group commit.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
    registry=REGISTRY,
)
BATCH_MEMBERS = Histogram(
    "segment_sync_commit_batch_members",
    "Members (added and removed) of the syncs committed together by one group commit.",
    buckets=(1, 10, 100, 1_000, 10_000, 20_000, 100_000, 1_000_000),
    registry=REGISTRY,
)
HASH_LOG_ROWS = Gauge(
    "segment_sync_sqlite_hash_log_rows",
    "SQLite: member hashes committed but not merged yet into the index LaunchDarkly's "
    "SDKs read.",
    registry=REGISTRY,
)
SDK_LAG = Gauge(
    "segment_sync_sqlite_sdk_lag_seconds",
    "SQLite: age of the oldest commit not merged yet into the SDKs' index (0: all "
    "merged); the SDKs see members that much later.",
    registry=REGISTRY,
)
MERGED_ROWS = Counter(
    "segment_sync_sqlite_hash_log_merged_rows",
    "SQLite: rows of the hash log merged into the SDKs' index.",
    registry=REGISTRY,
)
MERGE_SECONDS = Histogram(
    "segment_sync_sqlite_merge_duration_seconds",
    "SQLite: one merge step of the hash log into the SDKs' index (it holds the writer).",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)


@functools.lru_cache(maxsize=4096)
def _child(metric: Any, *values: str) -> Any:
    """metric.labels(*values), looked up once: labels() validates and locks on every
    call, a few microseconds that a request would pay five times. Every label takes
    bounded values (see integration_label and route_label), so the cache stays small."""
    return metric.labels(*values)


def integration_label(key: str) -> str:
    """A built integration's key, as the runtime matches it; UNKNOWN for any other."""
    key = key.lower() if key.isascii() else key
    return key if key in generated.INTEGRATIONS else UNKNOWN


def route_label(scope: Mapping[str, Any]) -> str:
    """The template of the route that answered (never the raw path), or UNKNOWN."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path.replace(":path}", "}")  # {segmentKey:path} as documented
    if "integration" in scope.get("state", {}):
        return INGEST_ROUTE
    return UNKNOWN


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """A request answered (the request log calls this for every one)."""
    if method not in _METHODS:
        method = "other"
    _child(REQUESTS, route, method, str(status)).inc()
    _child(REQUEST_SECONDS, route).observe(seconds)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_sync(integration: str, status: int) -> None:
    """A partner sync answered; integration is a label of integration_label."""
    _child(SYNCS, integration, str(status)).inc()


def observe_apply(
    integration: str, seconds: float, results: Iterable[Any] = ()
) -> tuple[int, int]:
    """A store apply and its ChangeResults; (members added, removed) in all."""
    _child(APPLY_SECONDS, integration).observe(seconds)
    added = removed = 0
    for result in results:
        added += result.added
        removed += result.removed
    if added:
        _child(MEMBERS, integration, "added").inc(added)
    if removed:
        _child(MEMBERS, integration, "removed").inc(removed)
    return added, removed


def store_error(route: str) -> None:
    """A request answered 503 because the store was unavailable."""
    _child(STORE_ERRORS, route).inc()


def rate_limited(route: str) -> None:
    """A request refused 429 by the rate limit."""
    _child(RATE_LIMITED, route).inc()


def observe_commit_batch(requests: int, members: int) -> None:
    """One group commit (or pipeline) of `requests` syncs holding `members` members.

    For the writer that batches syncs: call it once per batch it commits.
    """
    BATCH_REQUESTS.observe(requests)
    BATCH_MEMBERS.observe(members)


def watch_hash_log(rows: Callable[[], float], lag: Callable[[], float]) -> None:
    """The SQLite writer's hash log, read when /metrics is asked: rows and lag."""
    HASH_LOG_ROWS.set_function(rows)
    SDK_LAG.set_function(lag)


def observe_merge(seconds: float, rows: int) -> None:
    """One merge step of the SQLite hash log, and the log rows it merged."""
    MERGE_SECONDS.observe(seconds)
    MERGED_ROWS.inc(rows)


def exposition() -> tuple[bytes, str]:
    """(body, content type) of /metrics: every metric in Prometheus's text format."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
