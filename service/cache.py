"""Tokens and environments in memory, so the event loop authenticates without a store read.

A serving process keeps what the registry told it about token ids (their hash, role,
whether revoked) and client-side ids (their project and environment keys). Every change
to tokens or environments, by this process, the CLI or another process sharing the
store, bumps the registry's generation: a counter row that triggers keep in SQLite, a
counter key in Redis. A thread reads that counter every POLL_SECONDS and clears the
cache when it moved, so a revocation is honoured here within about half a second.

While the counter cannot be read (the store is down), the cache trusts nothing older
than STALE_AFTER_SECONDS: lookups then go to the store as they did without a cache.
Unknown token ids and unknown client-side ids are never cached (a token created a moment
ago must work at once), so they cost a store read, off the event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Optional

from .access import (
    Principal,
    StoredToken,
    invalid_token,
    missing_token,
    token_from_header,
    token_id_of,
)
from .store import Environment, Registry, StoreUnavailable

log = logging.getLogger("service.cache")

POLL_SECONDS = 0.5
STALE_AFTER_SECONDS = 2.0
MAX_ENTRIES = 100_000  # of each kind; cleared whole when full (ids are few in practice)

_MISS = object()


class RegistryCache:
    """Cached Registry answers, cleared when the registry's generation changes."""

    def __init__(self, registry: Registry, poll_seconds: float = POLL_SECONDS) -> None:
        self.registry = registry
        self._tokens: dict[str, StoredToken] = {}
        self._environments: dict[str, Environment] = {}
        # Authorization header -> its principal, for tokens that passed principal_for:
        # parsing and hashing the token again costs about 2.9 us a request, a dict
        # lookup 0.3. Holds tokens, in memory only, as any request in flight does.
        self._principals: dict[str, Principal] = {}
        self._generation: Optional[int] = None
        self._checked_at = 0.0  # monotonic time of the last successful poll
        self._lock = threading.Lock()  # between the poller and cache fills
        self._stop = threading.Event()
        self._poll_seconds = poll_seconds
        self._poll()
        self._thread = threading.Thread(
            target=self._run, name="registry-cache", daemon=True
        )
        self._thread.start()

    # --- the poller

    def _run(self) -> None:
        while not self._stop.wait(self._poll_seconds):
            self._poll()

    def _poll(self) -> None:
        try:
            generation = self.registry.generation()
        except StoreUnavailable:
            return  # the cache goes stale on its own: see fresh()
        except Exception:
            log.exception("bug while reading the registry generation")
            return
        with self._lock:
            if generation != self._generation:
                self._tokens = {}
                self._environments = {}
                self._principals = {}
                self._generation = generation
            self._checked_at = time.monotonic()

    def fresh(self) -> bool:
        return time.monotonic() - self._checked_at < STALE_AFTER_SECONDS

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    # --- tokens

    def principal(self, authorization: Optional[str]) -> Optional[Principal]:
        """From memory: the principal, AccessDenied, or None when the store must be asked."""
        if authorization is None:
            raise missing_token()
        known = self._principals.get(authorization)
        if known is not None and self.fresh():
            return known
        generation = self._generation  # before reading _tokens: see _remember
        token = token_from_header(authorization)
        if token is None:
            raise missing_token()
        token_id = token_id_of(token)
        if token_id is None:
            raise invalid_token()
        stored = self._tokens.get(token_id) if self.fresh() else None
        if stored is None:
            return None
        principal = stored.principal_for(token)  # AccessDenied: not remembered
        self._remember(self._principals, authorization, principal, generation)
        return principal

    def authenticate(self, authorization: Optional[str]) -> Principal:
        """Registry.authenticate, from memory when it can (blocks on a miss)."""
        principal = self.principal(authorization)
        if principal is not None:
            return principal
        token = token_from_header(authorization) or ""
        stored = self._stored_token(token_id_of(token) or "")
        if stored is None:
            raise invalid_token()
        return stored.principal_for(token)

    def _stored_token(self, token_id: str) -> Optional[StoredToken]:
        generation = self._generation
        stored = self.registry.stored_token(token_id)
        if stored is not None:
            self._remember(self._tokens, token_id, stored, generation)
        return stored

    # --- environments

    def cached_environment(self, client_side_id: str) -> Optional[Environment]:
        """From memory only: the environment, or None when the store must be asked."""
        return self._environments.get(client_side_id) if self.fresh() else None

    def environment_by_client_id(self, client_side_id: str) -> Optional[Environment]:
        environment = self.cached_environment(client_side_id)
        if environment is not None:
            return environment
        generation = self._generation
        environment = self.registry.environment_by_client_id(client_side_id)
        if environment is not None:
            self._remember(self._environments, client_side_id, environment, generation)
        return environment

    def _remember(
        self,
        table: dict[str, Any],
        key: str,
        value: object,
        generation: Optional[int],
    ) -> None:
        """Keep an answer unless the generation moved while it was read (it may be old).

        Only _poll replaces the tables, and then with a new generation, under the lock;
        and an answer kept in a table already replaced is dropped with that table."""
        with self._lock:
            if generation != self._generation:
                return
            if len(table) >= MAX_ENTRIES:
                table.clear()
            table[key] = value
