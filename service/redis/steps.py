"""Large requests on Redis in bounded steps, so that no script holds Redis for long.

Redis runs one script at a time and nothing else meanwhile: a request of 1.2 million
members applied by one script held Redis for about 24 s, so SDK lookups and other syncs
waited, and got BUSY after 5 s. A request of more than STEP_MEMBERS members is applied
instead as:

1. one APPLY script without members: every refusal of the request is decided here (409s,
   createSegment), new segments are created (with their generation, and their definition
   with --sdk-definitions), and the request takes a lease on each of its segments
   (P:lease:E:K, expiring after LEASE_MS unless a step renews it). Refused: nothing is
   written, as for a small request.
2. STEP scripts of at most STEP_MEMBERS members each (a few ms of Redis each, against a
   50 ms budget), adds then removes, each checking that the lease is still this
   request's and renewing it;
3. one RELEASE script.

Generations never change, so the segment definitions SDKs hold stay valid. What an SDK
(or the read API) may observe while a large request is in progress:

- each member of the request changes once, from its state before the request to its
  state after it, at the step that carries it; it never flickers, and no member outside
  the request changes;
- a new segment exists (read API, definitions) from step 1, with the members applied so
  far; `memberCount` grows (or shrinks) step by step;
- no other request changes these segments meanwhile: a request that touches a leased
  segment waits for the lease (up to LEASE_WAIT seconds, then 503 with nothing applied;
  the service's pipeline writer tries a small one again in later pipelines, writer.py),
  so the outcome is that of the requests one after the other. Requests on other segments
  run between the steps.

If the service or Redis fails midway, the steps already applied stay (each is atomic and
durable on its own) and the partner gets 503 (`PartlyApplied`) or a dropped connection;
its retry, the same request, converges on the full state: every step is idempotent, and
a lease is identified by the request's digest, so the replay takes over the lease left by
the failed attempt at once while any other request still waits for it to expire.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from hashlib import sha256
from itertools import chain
from typing import TYPE_CHECKING, Callable, Optional, TypeVar

from redis.typing import EncodableT

from generated import SegmentChange, SyncRequest
from segment_sync_sdk.layout import context_hash

from ..store import (
    ChangeResult,
    Environment,
    PartlyApplied,
    StoreUnavailable,
    now_ms,
)
from .client import unavailable_on_failure

if TYPE_CHECKING:
    from .store import RedisSegmentStore

log = logging.getLogger("service.store")

# At most this many members per script: about 5 us each inside Redis on an idle 2-core
# machine (3 ms a step); with its CPUs 96% contended (bench/sdk_reads.py, SLOWLOG), steps
# of 500 ran 9 ms at the median and 47 ms at p99, where 1,000 ran 23 and 72 ms.
STEP_MEMBERS = 500
LEASE_MS = 10_000  # a lease not renewed by a step for this long is free again
LEASE_WAIT = 10.0  # seconds a request waits for another's lease before a 503
LOG_EVERY = 50_000  # members between progress lines of a large change

T = TypeVar("T")


class SegmentBusy(StoreUnavailable):
    """A segment of the request is leased by a large request in progress; nothing applied."""

    def __init__(self, segment_key: str) -> None:
        super().__init__(
            f'segment "{segment_key}" is being changed by a large request still in '
            "progress; nothing of this request was applied"
        )
        self.segment_key = segment_key


@dataclass(frozen=True)
class Step:
    """One step done: members of the change applied so far, and of the change in all."""

    segment_key: str
    done: int
    total: int


def member_args(prefix: str, members: tuple[str, ...]) -> Iterator[str]:
    """member, its SDK include-set key, ...: built in C loops, a million in about 1 s."""
    include = f"{prefix}:big_segment_include:"
    keys = (include + context_hash(member) for member in members)
    return chain.from_iterable(zip(members, keys))


def request_digest(environment: Environment, sync: SyncRequest) -> str:
    """What identifies a request's lease: the same request (a replay) has the same one."""
    content = [
        environment.client_side_id,
        sync.integration_key,
        sync.context_kind,
        [[c.cohort_id, c.added, c.removed] for c in sync.changes],
    ]
    return sha256(json.dumps(content).encode("utf-8")).hexdigest()


def waiting_for_leases(attempt: Callable[[], T]) -> T:
    """attempt(), again every 50 ms while a segment is leased, for up to LEASE_WAIT s."""
    deadline = time.monotonic() + LEASE_WAIT
    while True:
        try:
            return attempt()
        except SegmentBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def apply_in_steps(
    store: RedisSegmentStore,
    environment: Environment,
    sync: SyncRequest,
    may_create: bool,
    observe: Optional[Callable[[Step], None]] = None,
) -> list[ChangeResult]:
    """Apply a large request as described in the module docstring."""
    lease = request_digest(environment, sync)
    without_members = sync._replace(
        changes=tuple(c._replace(added=(), removed=()) for c in sync.changes)
    )
    begun = store.apply_whole(environment, without_members, may_create, lease)
    results = []
    try:
        for change, first in zip(sync.changes, begun):
            added, removed = _change_in_steps(
                store, environment, sync, change, lease, observe
            )
            results.append(replace(first, added=added, removed=removed))
    except StoreUnavailable as error:
        raise PartlyApplied(
            f"{error}; part of this large request is applied, the rest is not: "
            "retry it to apply the rest"
        ) from None
    finally:
        _release(store, environment, sync, lease)
    return results


def _change_in_steps(
    store: RedisSegmentStore,
    environment: Environment,
    sync: SyncRequest,
    change: SegmentChange,
    lease: str,
    observe: Optional[Callable[[Step], None]],
) -> tuple[int, int]:
    """The members of one change, STEP_MEMBERS at a time: (really added, really removed)."""
    key = sync.segment_key(change)
    total = len(change.added) + len(change.removed)
    added = removed = done = 0
    for adds, removes in _slices(change, store.step_members):
        args: list[EncodableT] = [
            store.prefix,
            environment.client_side_id,
            now_ms(),
            lease,
            LEASE_MS,
            key,
            len(adds),
            len(removes),
            *member_args(store.prefix, adds),
            *member_args(store.prefix, removes),
        ]
        with unavailable_on_failure("a step of a large sync"):
            reply = store.run_step(args)
        if reply[0] == b"lost":
            raise StoreUnavailable(
                f'the lease of this request on segment "{key}" expired or was taken '
                "over midway"
            )
        added += reply[1]
        removed += reply[2]
        before, done = done, done + len(adds) + len(removes)
        if done // LOG_EVERY > before // LOG_EVERY:
            log.info("segment %s: %d of %d members applied", key, done, total)
        if observe is not None:
            observe(Step(key, done, total))
    return added, removed


def _slices(
    change: SegmentChange, size: int
) -> Iterator[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(added, removed) slices of at most size members in all: the adds, then removes."""
    for start in range(0, len(change.added), size):
        yield change.added[start : start + size], ()
    for start in range(0, len(change.removed), size):
        yield (), change.removed[start : start + size]


def _release(
    store: RedisSegmentStore, environment: Environment, sync: SyncRequest, lease: str
) -> None:
    """Release the request's leases; if Redis cannot be reached, they expire on their own."""
    keys = [store.lease_key(environment, sync.segment_key(c)) for c in sync.changes]
    try:
        with unavailable_on_failure("releasing a large sync's leases"):
            store.run_release(keys, lease)
    except StoreUnavailable as error:
        log.warning("%s (they expire in %d s)", error, LEASE_MS // 1000)
