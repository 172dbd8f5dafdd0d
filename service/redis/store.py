"""The Redis segment store: many service processes over one Redis, read by LaunchDarkly SDKs.

Membership is written in the layout that LaunchDarkly's server-side SDKs read with their
Redis Big Segment store, so an SDK configured with the same Redis and prefix evaluates
flags against the segments this service keeps. From the SDKs' public source:

- python-server-sdk, ldclient/impl/integrations/redis/redis_big_segment_store.py:
  KEY_LAST_UP_TO_DATE = ':big_segments_synchronized_on' (epoch ms as a string, read with
  GET), KEY_USER_INCLUDE = ':big_segment_include:' and KEY_USER_EXCLUDE =
  ':big_segment_exclude:' (SETs read with SMEMBERS), each after the prefix, whose default
  is 'launchdarkly'.
- ldclient/impl/big_segments_common.py: the context hash is
  base64.b64encode(sha256(key.encode('utf-8')).digest()) (standard base64, padded).
- ldclient/impl/evaluator_common.py _make_big_segment_ref: a set holds
  "%s.g%s" % (segment.key, segment.generation).
  (go-server-sdk-redis-redigo's redis_big_segments.go uses the same three key suffixes.)

Our own keys share the prefix (P is the prefix, E a client-side id, K a segment key):

- P:segments:E        sorted set of segment keys, all score 0: pages in byte order
- P:segment:E:K       hash: name, description, tags (JSON), context_kind, integration_key,
                      cohort_id, cohort_url (absent for none), member_count, created_at,
                      updated_at, generation
- P:members:E:K       sorted set of member keys, all score 0: "is k in s" and pages
- P:segment_generation  counter: each new segment takes the next generation

Generations are unique across environments: the SDK sets are keyed by context alone, so
"K.gN" with a unique N keeps two environments' segments of one key apart. An SDK's segment
definition must carry that generation (the `generation` field of P:segment:E:K).

Every request is one Lua script: all checks first, then all writes, executed by Redis
without interleaving, so a request lands whole or not at all (a Redis killed mid-script
loses the whole script: the AOF records a script's effects as one MULTI/EXEC).
"""

from __future__ import annotations

import json
import logging
import threading
from base64 import b64encode
from collections.abc import Mapping
from hashlib import sha256
from itertools import chain
from typing import Any, Optional

import redis
from redis.typing import EncodableT

from generated import SyncRequest

from ..store import (
    ChangeResult,
    ContextKindConflict,
    CreationRefused,
    DetailsPatch,
    Environment,
    IntegrationConflict,
    Segment,
    StoreUnavailable,
)
from . import scripts
from .client import DEFAULT_PREFIX, QUICK_TIMEOUT, now_ms, text, unavailable_on_failure

log = logging.getLogger("service.store")
SYNCHRONIZED_EVERY = 5.0  # seconds, as often as the SDKs poll the store's status


def context_hash(context_key: str) -> str:
    """The SDKs' hash of a context key: standard base64 of its sha256."""
    return b64encode(sha256(context_key.encode("utf-8")).digest()).decode("ascii")


class RedisSegmentStore:
    """SegmentStore on Redis, under a key prefix (see the module docstring for the keys)."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = DEFAULT_PREFIX,
        apply_client: Optional[redis.Redis] = None,
    ) -> None:
        """Syncs go through apply_client (with a longer timeout; default: client)."""
        self.client = client
        self.apply_client = apply_client or client
        self.prefix = prefix
        self._apply = self.apply_client.register_script(scripts.APPLY)
        self._update_details = client.register_script(scripts.UPDATE_DETAILS)
        self._load_scripts()
        self._stop = threading.Event()
        self._heartbeat: Optional[threading.Thread] = None

    def _load_scripts(self) -> None:
        """Load the scripts now: a first EVALSHA would fail and send a big request twice."""
        try:
            for script in (self._apply, self._update_details):
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

    @property
    def synchronized_on_key(self) -> str:
        return f"{self.prefix}:big_segments_synchronized_on"

    # --- writes

    def apply(
        self, environment: Environment, sync: SyncRequest, *, may_create: bool = True
    ) -> list[ChangeResult]:
        args = self.apply_args(environment, sync, may_create=may_create)
        with unavailable_on_failure("a sync"):
            reply = self._apply(args=args)
        return results_of(reply, sync)

    def apply_args(
        self, environment: Environment, sync: SyncRequest, *, may_create: bool = True
    ) -> list[EncodableT]:
        """The ARGV of the apply script for one request (see scripts.APPLY)."""
        args: list[EncodableT] = [
            self.prefix,
            environment.client_side_id,
            now_ms(),
            "1" if may_create else "0",
            sync.integration_key,
            sync.context_kind,
            len(sync.changes),
        ]
        include = f"{self.prefix}:big_segment_include:"
        for change in sync.changes:
            args += [
                sync.segment_key(change),
                change.cohort_id,
                change.cohort_name,
                change.cohort_url or "",
                "0" if change.cohort_url is None else "1",
                len(change.added),
                len(change.removed),
            ]
            members = (*change.added, *change.removed)
            # member, its include key, ...: built in C loops, a million in about 1 s
            keys = (include + context_hash(member) for member in members)
            args += chain.from_iterable(zip(members, keys))
        return args

    @property
    def apply_script(self) -> redis.commands.core.Script:
        return self._apply

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
        self._heartbeat = threading.Thread(
            target=self._beat, args=(every,), name="synchronized-on", daemon=True
        )
        self._heartbeat.start()

    def _beat(self, every: float) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self.mark_synchronized()
                if failing:
                    log.info("Redis answers again: the SDKs see the store current")
                failing = False
            except StoreUnavailable as error:
                if not failing:  # one line per outage, not one per beat
                    log.warning("cannot mark the store synchronized: %s", error)
                failing = True
            self._stop.wait(every)

    def close(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=QUICK_TIMEOUT)
        self.client.close()
        self.apply_client.close()


def results_of(reply: list[Any], sync: SyncRequest) -> list[ChangeResult]:
    """The script's reply as ChangeResults, or the refusal it names raised."""
    status = reply[0].decode()
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
    )
