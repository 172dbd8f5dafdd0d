"""What the service needs from a backend (SQLite, Redis): three small Protocols and their types.

A backend is one sub-package (`service/sqlite/`, `service/redis/`) holding a SegmentStore,
a Registry and a RateLimiter; `service/backends.py` opens one of them.

- SegmentStore keeps segments per environment and their members, and answers membership
  questions without loading a segment into memory. `apply` is the heart of it: every
  change of one request lands, or none does, and replaying a request gives the same state.
- Registry keeps environments (client-side id -> project and environment keys) and access
  tokens (hashed), and authenticates a request's Authorization header.
- RateLimiter counts a token's requests in fixed windows.
- Writer applies syncs for the event loop: one thread that owns the writes and batches
  the requests waiting (writer.py; sqlite/writer.py, redis/writer.py).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional, Protocol

from generated import SyncRequest

from .access import Principal, StoredToken, TokenInfo
from .ratelimit import RateLimit, Refusal


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds, as both stores keep times."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Environment:
    """A client-side id, as partners send it, and the keys it stands for."""

    client_side_id: str
    project_key: str
    environment_key: str


@dataclass(frozen=True)
class Segment:
    """A synced segment's details; times are epoch milliseconds.

    `generation` is what LaunchDarkly's SDKs need beside the key to find the members in a
    Big Segment store ("{key}.g{generation}"): unique across environments of one store.
    """

    key: str
    name: str
    description: str
    tags: tuple[str, ...]
    context_kind: str
    integration_key: str
    cohort_id: str
    cohort_url: Optional[str]
    member_count: int
    created_at: int
    updated_at: int
    generation: int


def iso_time(epoch_ms: int) -> str:
    """A stored time as people read it: ISO 8601 in UTC, to the millisecond."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class DetailsPatch:
    """What a person changes on a segment; None leaves a field as it is."""

    name: Optional[str] = None
    description: Optional[str] = None
    tags: Optional[tuple[str, ...]] = None


@dataclass(frozen=True)
class ChangeResult:
    """What apply did to one segment: created or not, members really added and removed."""

    segment_key: str
    created: bool
    added: int
    removed: int


class StoreError(Exception):
    """A refusal or failure of the store; the message is a sentence for the caller."""


class StoreUnavailable(StoreError):
    """The store cannot be used now (locked, unreachable, disk full); nothing was applied."""


class PartlyApplied(StoreUnavailable):
    """The store failed midway through a large request applied in steps (Redis).

    What was applied stays; a replay of the request applies the rest (steps are
    idempotent), so the partner's retry converges.
    """


class ContextKindConflict(StoreError):
    """A segment of the request exists with another context kind; nothing was applied."""

    def __init__(self, segment_key: str, stored_kind: str, requested_kind: str) -> None:
        super().__init__(
            f'segment "{segment_key}" holds contexts of kind "{stored_kind}"; this '
            f'request sends kind "{requested_kind}", so nothing was applied'
        )
        self.segment_key = segment_key


class IntegrationConflict(StoreError):
    """A segment of the request was created by another integration; nothing was applied."""

    def __init__(self, segment_key: str, owner: str, requester: str) -> None:
        super().__init__(
            f'segment "{segment_key}" is synced by integration "{owner}", not '
            f'"{requester}", so nothing was applied'
        )
        self.segment_key = segment_key


class CreationRefused(StoreError):
    """The request would create segments and the caller may not; nothing was applied."""

    def __init__(self, segment_keys: list[str]) -> None:
        shown = ", ".join(f'"{key}"' for key in segment_keys)
        subject = (
            "segment " + shown + " does not"
            if len(segment_keys) == 1
            else ("segments " + shown + " do not")
        )
        super().__init__(
            f"{subject} exist yet, and creating a segment needs the createSegment "
            "action, which this access token's role lacks; nothing was applied"
        )
        self.segment_keys = segment_keys


class RegistryError(Exception):
    """A configuration command that cannot be done; the message says why."""


@dataclass(frozen=True)
class Bootstrap:
    """What a first start created: shown once."""

    environment: Environment
    token_id: str
    token: str


DEFAULT_PROJECT_KEY = "default"
DEFAULT_ENVIRONMENT_KEY = "production"
KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_environment_keys(
    client_side_id: str, project_key: str, environment_key: str
) -> None:
    """Raise RegistryError naming the first key that is not 1-128 safe characters."""
    for label, value in (
        ("client-side id", client_side_id),
        ("project key", project_key),
        ("environment key", environment_key),
    ):
        if not KEY.fullmatch(value):
            raise RegistryError(
                f'{label} "{value}" must be 1 to 128 letters, digits, ".", "_" or '
                '"-", starting with a letter or digit'
            )


class SegmentStore(Protocol):
    """Segments and their members, per environment (by client-side id)."""

    def apply(
        self, environment: Environment, sync: SyncRequest, *, may_create: bool = True
    ) -> list[ChangeResult]:
        """Apply every change of a request in one transaction, or none of them.

        A segment seen for the first time is created with the partner's cohort name and
        URL (raises CreationRefused when may_create is false); an existing one only has
        its members changed. Raises ContextKindConflict or IntegrationConflict before
        anything is written, and StoreUnavailable when the store cannot be used.
        """
        ...

    def list_segments(
        self, environment: Environment, limit: int, after: Optional[str] = None
    ) -> list[Segment]:
        """Up to limit segments ordered by key, those after the key `after` only."""
        ...

    def get_segment(self, environment: Environment, key: str) -> Optional[Segment]: ...

    def is_included(
        self, environment: Environment, key: str, context_key: str
    ) -> Optional[bool]:
        """Whether the segment includes the context key; None when there is no segment."""
        ...

    def members(
        self,
        environment: Environment,
        key: str,
        limit: int,
        after: Optional[str] = None,
    ) -> Optional[list[str]]:
        """Up to limit member keys in key order after `after`; None when no segment."""
        ...

    def update_details(
        self, environment: Environment, key: str, patch: DetailsPatch
    ) -> Optional[Segment]:
        """Set name, description or tags (kept by later syncs); None when no segment."""
        ...

    def mark_synchronized(self) -> None:
        """Record that the store is current as of now, for the SDKs' "stale" status."""
        ...

    def start_heartbeat(self) -> None:
        """mark_synchronized every few seconds until close (a running service does)."""
        ...

    def close(self) -> None: ...


class Registry(Protocol):
    """Environments and access tokens (stored as sha256 hashes only)."""

    def ping(self) -> None:
        """Raise StoreUnavailable unless the backend answers."""
        ...

    def probe_write(self) -> None:
        """Raise StoreUnavailable unless a write commits (one that changes nothing)."""
        ...

    def bootstrap(self) -> Optional[Bootstrap]:
        """On an empty store, create the default environment and a writer token."""
        ...

    def add_environment(
        self, client_side_id: str, project_key: str, environment_key: str
    ) -> Environment: ...

    def environment_by_client_id(
        self, client_side_id: str
    ) -> Optional[Environment]: ...

    def environment_by_keys(
        self, project_key: str, environment_key: str
    ) -> Optional[Environment]: ...

    def list_environments(self) -> list[Environment]: ...

    def create_token(
        self, role: str, actions: frozenset[str] = frozenset(), name: str = ""
    ) -> tuple[TokenInfo, str]:
        """A new token with a built-in role, or with role 'custom' and its actions."""
        ...

    def list_tokens(self) -> list[TokenInfo]: ...

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke a token (again is fine); its requests get 403 from then on."""
        ...

    def stored_token(self, token_id: str) -> Optional[StoredToken]:
        """What the registry keeps of a token (never the token), or None."""
        ...

    def authenticate(self, authorization: Optional[str]) -> Principal:
        """The principal of an Authorization header; AccessDenied says what is wrong."""
        ...

    def generation(self) -> int:
        """A counter that every change of tokens or environments moves (cache.py)."""
        ...


class RateLimiter(Protocol):
    """At most `limit` requests per window per key (a token id)."""

    limit: Optional[RateLimit]

    def check(self, key: str) -> Optional[Refusal]:
        """Count one request for key; a Refusal when it is over the limit."""
        ...

    def check_from_memory(self, key: str) -> Any:
        """check without a store round trip (for the event loop), or ratelimit.ASK_STORE
        when the answer needs one; then call check, off the loop."""
        ...


class Writer(Protocol):
    """SegmentStore.apply for the event loop: awaited, applied by the writer's thread."""

    async def apply(
        self, environment: Environment, sync: SyncRequest, *, may_create: bool = True
    ) -> list[ChangeResult]:
        """As SegmentStore.apply, atomic and idempotent per request."""
        ...

    def close(self) -> None: ...
