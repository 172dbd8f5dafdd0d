"""The Redis segment store: many service processes over one Redis, read by LaunchDarkly SDKs.

Membership is written in the layout that LaunchDarkly's server-side SDKs read with their
Redis Big Segment store, so an SDK configured with the same Redis and prefix evaluates
flags against the segments this service keeps. From the SDKs' public source:

- python-server-sdk, ldclient/impl/integrations/redis/redis_big_segment_store.py:
  KEY_LAST_UP_TO_DATE = ':big_segments_synchronized_on' (epoch ms as a string, read with
  GET), KEY_USER_INCLUDE = ':big_segment_include:' and KEY_USER_EXCLUDE =
  ':big_segment_exclude:' (SETs read with SMEMBERS), each after the prefix, whose default
  is 'launchdarkly'.
- The context hash, the "{key}.g{generation}" reference and segment definitions:
  segment_sync_sdk/layout.py, with their sources in the SDKs.
- python-server-sdk ldclient/impl/integrations/redis/redis_feature_store.py and js-core
  packages/store/node-server-sdk-redis/src/RedisCore.ts (SDKs in daemon mode): segment
  definitions are JSON strings in the hash P:segments by segment key (HGET, HGETALL), and
  the key P:$inited says the store is initialised (EXISTS). Written only with
  --sdk-definitions (write_definitions), for one environment.
  (go-server-sdk-redis-redigo's redis_big_segments.go uses the same three key suffixes.)

Our own keys share the prefix (P is the prefix, E a client-side id, K a segment key):

- P:segments:E        sorted set of segment keys, all score 0: pages in byte order (not
                      the SDKs' P:segments hash: another key)
- P:segment:E:K       hash: name, description, tags (JSON), context_kind, integration_key,
                      cohort_id, cohort_url (absent for none), member_count, created_at,
                      updated_at, generation
- P:members:E:K       sorted set of member keys, all score 0: "is k in s" and pages
- P:segment_generation  counter: each new segment takes the next generation
- P:lease:E:K         while a large request is applied in steps: its digest (steps.py)

Generations are unique across environments: the SDK sets are keyed by context alone, so
"K.gN" with a unique N keeps two environments' segments of one key apart. An SDK's segment
definition must carry that generation (the read API's `generation`, or
/sdk-segments). A segment's generation never changes.

A request of up to STEP_MEMBERS members is one Lua script: all checks first, then all
writes, executed by Redis without interleaving, so it lands whole or not at all (a Redis
killed mid-script loses the whole script: the AOF records a script's effects as one
MULTI/EXEC). A larger one is applied in bounded steps: see steps.py for how, and for what
an SDK may observe meanwhile.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Callable, Optional

import redis
from redis.typing import EncodableT

from generated import SyncRequest
from segment_sync_sdk.layout import definition_json, definition_json_head

from ..heartbeat import SYNCHRONIZED_EVERY, Heartbeat
from ..sdk import all_segments
from ..store import (
    ChangeResult,
    ContextKindConflict,
    CreationRefused,
    DetailsPatch,
    Environment,
    IntegrationConflict,
    Segment,
    now_ms,
)
from ..writer import members_of
from . import scripts
from .client import DEFAULT_PREFIX, QUICK_TIMEOUT, text, unavailable_on_failure
from .steps import (
    LEASE_MS,
    STEP_MEMBERS,
    SegmentBusy,
    Step,
    apply_in_steps,
    member_args,
    waiting_for_leases,
)

log = logging.getLogger("service.store")
DEFINITIONS_PAGE = 1000  # segments per round trip when writing every definition


class RedisSegmentStore:
    """SegmentStore on Redis, under a key prefix (see the module docstring for the keys)."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = DEFAULT_PREFIX,
        apply_client: Optional[redis.Redis] = None,
        *,
        step_members: int = STEP_MEMBERS,
    ) -> None:
        """Syncs go through apply_client (with a longer timeout; default: client).

        A request of more than step_members members is applied in steps of at most
        that many (steps.py); smaller ones in one script.
        """
        self.client = client
        self.apply_client = apply_client or client
        self.prefix = prefix
        self.step_members = step_members
        # the client-side id whose definitions SDKs in daemon mode read (write_definitions)
        self.definitions_for: Optional[str] = None
        # called after each step of a large request (tests watch SDK reads there)
        self.observe_step: Optional[Callable[[Step], None]] = None
        self._apply = self.apply_client.register_script(scripts.APPLY)
        self._step = client.register_script(scripts.STEP)
        self._release = client.register_script(scripts.RELEASE)
        self._update_details = client.register_script(scripts.UPDATE_DETAILS)
        self._load_scripts()
        self._heartbeat: Optional[Heartbeat] = None

    def _load_scripts(self) -> None:
        """Load the scripts now: a first EVALSHA would fail and send a big request twice."""
        try:
            for script in (
                self._apply,
                self._step,
                self._release,
                self._update_details,
            ):
                script.sha = script.registered_client.script_load(script.script)
        except redis.RedisError:
            pass  # Redis is down: the first call loads them, and the failure shows there

    # --- keys

    def _segments(self, environment: Environment) -> str:
        return f"{self.prefix}:segments:{environment.client_side_id}"

    def _segment(self, environment: Environment, key: str) -> str:
        return f"{self.prefix}:segment:{environment.client_side_id}:{key}"

    def _members(self, environment: Environment, key: str) -> str:
        return f"{self.prefix}:members:{environment.client_side_id}:{key}"

    def lease_key(self, environment: Environment, key: str) -> str:
        return f"{self.prefix}:lease:{environment.client_side_id}:{key}"

    @property
    def synchronized_on_key(self) -> str:
        return f"{self.prefix}:big_segments_synchronized_on"

    @property
    def definitions_key(self) -> str:
        """Where SDKs in daemon mode read segment definitions (a hash by segment key)."""
        return f"{self.prefix}:segments"

    # --- writes

    def apply(
        self, environment: Environment, sync: SyncRequest, *, may_create: bool = True
    ) -> list[ChangeResult]:
        """One script for a request of up to step_members members; steps for a larger one.

        Either way, while another request holds a lease on one of its segments (a large
        request in progress), the request waits for it (steps.waiting_for_leases). The
        service's writer (writer.py) calls this for large requests only, on threads of
        its own; it pipelines the scripts of small ones itself (apply_args).
        """
        if members_of(sync) > self.step_members:
            return waiting_for_leases(
                lambda: apply_in_steps(
                    self, environment, sync, may_create, self.observe_step
                )
            )
        return waiting_for_leases(
            lambda: self.apply_whole(environment, sync, may_create)
        )

    def apply_whole(
        self,
        environment: Environment,
        sync: SyncRequest,
        may_create: bool = True,
        lease: str = "",
    ) -> list[ChangeResult]:
        """The APPLY script for the whole request; with a lease, take it (steps.py)."""
        args = self.apply_args(environment, sync, may_create=may_create, lease=lease)
        with unavailable_on_failure("a sync"):
            reply = self._apply(args=args)
        return results_of(reply, sync)

    def apply_args(
        self,
        environment: Environment,
        sync: SyncRequest,
        *,
        may_create: bool = True,
        lease: str = "",
    ) -> list[EncodableT]:
        """The ARGV of the APPLY script for one request (see scripts.APPLY)."""
        definitions = environment.client_side_id == self.definitions_for
        args: list[EncodableT] = [
            self.prefix,
            environment.client_side_id,
            now_ms(),
            "1" if may_create else "0",
            sync.integration_key,
            sync.context_kind,
            lease,
            LEASE_MS,
            len(sync.changes),
        ]
        for change in sync.changes:
            key = sync.segment_key(change)
            args += [
                key,
                change.cohort_id,
                change.cohort_name,
                change.cohort_url or "",
                "0" if change.cohort_url is None else "1",
                definition_json_head(key, sync.context_kind) if definitions else "",
                len(change.added),
                len(change.removed),
            ]
            args += member_args(self.prefix, (*change.added, *change.removed))
        return args

    @property
    def apply_script(self) -> redis.commands.core.Script:
        """The APPLY script, for the pipelining writer (writer.py)."""
        return self._apply

    def run_step(self, args: list[EncodableT]) -> list[Any]:
        reply: list[Any] = self._step(args=args)
        return reply

    def run_release(self, keys: list[str], lease: str) -> int:
        released: int = self._release(keys=keys, args=[lease])
        return released

    def write_definitions(self, environment: Environment) -> int:
        """From now on, keep each segment definition of environment where SDKs in daemon
        mode read it (P:segments, P:$inited): all of them now, then every sync's in its
        script. Returns how many were written now.

        Only for a prefix nothing else writes: an SDK's own store initialisation, or a
        Relay Proxy, replaces the whole P:segments hash.
        """
        self.definitions_for = environment.client_side_id
        segments = all_segments(self, environment)
        with unavailable_on_failure("writing segment definitions"):
            for start in range(0, len(segments), DEFINITIONS_PAGE):
                pipe = self.client.pipeline(transaction=False)
                for segment in segments[start : start + DEFINITIONS_PAGE]:
                    definition = definition_json(
                        segment.key, segment.context_kind, segment.generation
                    )
                    pipe.hset(self.definitions_key, segment.key, definition)
                pipe.execute()
            self.client.set(f"{self.prefix}:$inited", "")
        return len(segments)

    def update_details(
        self, environment: Environment, key: str, patch: DetailsPatch
    ) -> Optional[Segment]:
        fields: list[EncodableT] = []
        if patch.name is not None:
            fields += ["name", patch.name]
        if patch.description is not None:
            fields += ["description", patch.description]
        if patch.tags is not None:
            fields += ["tags", json.dumps(list(patch.tags))]
        with unavailable_on_failure("a segment update"):
            reply = self._update_details(
                keys=[self._segment(environment, key)], args=[now_ms(), *fields]
            )
        if reply is None:
            return None
        return _segment(key, dict(zip(reply[::2], reply[1::2])))

    # --- reads

    def list_segments(
        self, environment: Environment, limit: int, after: Optional[str] = None
    ) -> list[Segment]:
        start = b"(" + after.encode() if after else b"-"
        with unavailable_on_failure("a read"):
            keys = self.client.zrangebylex(
                self._segments(environment), start, b"+", 0, limit
            )
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.hgetall(self._segment(environment, text(key)))
            rows = pipe.execute()
        return [_segment(text(key), row) for key, row in zip(keys, rows) if row]

    def get_segment(self, environment: Environment, key: str) -> Optional[Segment]:
        with unavailable_on_failure("a read"):
            row = self.client.hgetall(self._segment(environment, key))
        return _segment(key, row) if row else None

    def generation(self, environment: Environment, key: str) -> Optional[int]:
        """The generation SDK segment definitions must carry; None when no segment."""
        with unavailable_on_failure("a read"):
            value = self.client.hget(self._segment(environment, key), "generation")
        return None if value is None else int(value)

    def is_included(
        self, environment: Environment, key: str, context_key: str
    ) -> Optional[bool]:
        with unavailable_on_failure("a read"):
            pipe = self.client.pipeline(transaction=True)
            pipe.exists(self._segment(environment, key))
            pipe.zscore(self._members(environment, key), context_key)
            exists, score = pipe.execute()
        return None if not exists else score is not None

    def members(
        self,
        environment: Environment,
        key: str,
        limit: int,
        after: Optional[str] = None,
    ) -> Optional[list[str]]:
        start = b"(" + after.encode() if after else b"-"
        with unavailable_on_failure("a read"):
            pipe = self.client.pipeline(transaction=True)
            pipe.exists(self._segment(environment, key))
            pipe.zrangebylex(self._members(environment, key), start, b"+", 0, limit)
            exists, keys = pipe.execute()
        return None if not exists else [member.decode() for member in keys]

    # --- "synchronized on", as the Relay Proxy keeps it

    def mark_synchronized(self) -> None:
        """Tell the SDKs the data is current as of now (they report stale otherwise)."""
        with unavailable_on_failure("marking the store synchronized"):
            self.client.set(self.synchronized_on_key, now_ms())

    def start_heartbeat(self, every: float = SYNCHRONIZED_EVERY) -> None:
        """Mark the store synchronized every few seconds until close."""
        self._heartbeat = Heartbeat(self.mark_synchronized, every)
        self._heartbeat.start()

    def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop(timeout=QUICK_TIMEOUT)
        self.client.close()
        self.apply_client.close()


def results_of(reply: list[Any], sync: SyncRequest) -> list[ChangeResult]:
    """The script's reply as ChangeResults, or the refusal it names raised."""
    status = reply[0].decode()
    if status == "busy":
        raise SegmentBusy(reply[1].decode())
    if status == "context_kind_conflict":
        raise ContextKindConflict(
            reply[1].decode(), reply[2].decode(), sync.context_kind
        )
    if status == "integration_conflict":
        raise IntegrationConflict(
            reply[1].decode(), reply[2].decode(), sync.integration_key
        )
    if status == "creation_refused":
        raise CreationRefused([key.decode() for key in reply[1:]])
    return [
        ChangeResult(key.decode(), bool(created), added, removed)
        for key, created, added, removed in reply[1:]
    ]


def _segment(key: str, row: Mapping[Any, Any]) -> Segment:
    """A Segment from a segment hash as HGETALL returns it (bytes to bytes)."""
    fields = {text(name): text(value) for name, value in row.items()}
    return Segment(
        key=key,
        name=fields["name"],
        description=fields["description"],
        tags=tuple(json.loads(fields["tags"])),
        context_kind=fields["context_kind"],
        integration_key=fields["integration_key"],
        cohort_id=fields["cohort_id"],
        cohort_url=fields.get("cohort_url"),
        member_count=int(fields["member_count"]),
        created_at=int(fields["created_at"]),
        updated_at=int(fields["updated_at"]),
        generation=int(fields["generation"]),
    )
