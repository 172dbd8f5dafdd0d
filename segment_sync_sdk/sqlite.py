"""A Big Segment store for LaunchDarkly's Python SDK over the service's SQLite file.

    from ldclient.config import BigSegmentsConfig, Config
    from segment_sync_sdk.sqlite import SqliteBigSegmentStore

    config = Config(
        sdk_key,
        big_segments=BigSegmentsConfig(store=SqliteBigSegmentStore("segments.db")),
    )

An application on the host of `python -m service serve` (SQLite, the default store) then
evaluates flags on synced segments with no Redis: the SDK takes the segment definitions
from its data source (LaunchDarkly, or a file from `python -m service export-sdk`) and
asks this store which segments a context is in.

- Read-only: the file is opened with `mode=ro` and never written; the service may write
  it meanwhile (WAL: each lookup sees the last commit, and never waits for a writer).
- Indexed lookups only: member_hashes and its recent level (member_hashes_recent, from
  schema 4) are keyed by the sha256 the SDK sends, so a million-member segment costs
  what an empty one does; one statement reads both, so one snapshot.
- `synchronized_on` is the time up to which the service's commits are in the index:
  the service appends each sync's hashes to a log and merges it into the index
  about a second later (service/sqlite/hashes.py), whole commits at a time, so a lookup
  sees each sync whole or not at all, and this time never claims one not merged yet.
  With the log empty the service sets it to now every few seconds: the SDK reports the
  store stale once the service has been gone (or its merges behind) for longer than
  its `stale_after`.
- The file may not exist yet when the application starts: each call opens it if it can,
  and fails (the SDK reports STORE_ERROR) until then.

Needs the SDK (`launchdarkly-server-sdk`) and the standard library only. It reads the
schema of service/sqlite/database.py, versions SCHEMA_VERSIONS.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any, Optional, Union
from urllib.parse import quote

from ldclient.interfaces import BigSegmentStore, BigSegmentStoreMetadata

from .layout import digest_of_hash, segment_ref

# The segments holding a context hash, with their generations (the segment ids), by the
# schema's version. From 4, member_hashes_recent lies in front of member_hashes: its row
# for a (hash, segment) wins, a removal hiding the older level's row. One statement, so
# one snapshot: a fold moving rows from one level to the other is seen whole or not.
_MEMBERSHIP = {
    3: (
        "SELECT s.key, s.id FROM member_hashes h JOIN segments s ON s.id = h.segment_id "
        "WHERE h.context_hash = ?"
    ),
    4: (
        "SELECT s.key, s.id FROM segments s WHERE s.id IN ("
        "SELECT segment_id FROM member_hashes WHERE context_hash = ?1 "
        "UNION SELECT segment_id FROM member_hashes_recent "
        "WHERE context_hash = ?1 AND added "
        "EXCEPT SELECT segment_id FROM member_hashes_recent "
        "WHERE context_hash = ?1 AND NOT added)"
    ),
}
# the versions of service/sqlite/database.py's schema read here
SCHEMA_VERSIONS = tuple(_MEMBERSHIP)
_SYNCHRONIZED_ON = "SELECT synchronized_on FROM store_metadata WHERE id = 1"


class StoreFileError(Exception):
    """The file cannot be read as a segment store; the message says what to do."""


class SqliteBigSegmentStore(BigSegmentStore):
    """ldclient's BigSegmentStore over the service's SQLite file, opened read-only."""

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path).resolve()
        self._lock = threading.Lock()  # one connection, shared by the SDK's threads
        self._conn: Optional[sqlite3.Connection] = None

    def get_metadata(self) -> BigSegmentStoreMetadata:
        """The time (epoch ms) up to which the service's commits are merged into what
        get_membership reads, or None if it never has."""
        row = self._query(_SYNCHRONIZED_ON, ())
        return BigSegmentStoreMetadata(row[0][0] if row else None)

    def get_membership(self, context_hash: str) -> Optional[dict[str, bool]]:
        """{"{segmentKey}.g{generation}": True} for each segment including the context."""
        rows = self._query(_MEMBERSHIP, (digest_of_hash(context_hash),))
        if not rows:
            return None
        return {segment_ref(key, generation): True for key, generation in rows}

    def stop(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _query(
        self, sql: Union[str, dict[int, str]], values: tuple[object, ...]
    ) -> list[tuple[Any, ...]]:
        """sql, or the statement of the file's schema version (read at each call: a
        service started on the file may have upgraded it since)."""
        with self._lock:
            conn = self._conn or self._open()
            try:
                if isinstance(sql, dict):
                    version = conn.execute("PRAGMA user_version").fetchone()[0]
                    if version not in sql:
                        raise StoreFileError(_version_advice(self.path, version))
                    sql = sql[version]
                return conn.execute(sql, values).fetchall()
            except sqlite3.Error as error:
                raise StoreFileError(f"{self.path}: {error}") from None

    def _open(self) -> sqlite3.Connection:
        """The connection, opened now (the caller holds the lock)."""
        if not self.path.is_file():
            raise StoreFileError(
                f"{self.path} does not exist (yet): start the service with --db {self.path}"
            )
        uri = f"file:{quote(str(self.path))}?mode=ro"
        try:
            conn = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False
            )
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as error:
            raise StoreFileError(f"{self.path}: {error}") from None
        if version not in SCHEMA_VERSIONS:
            conn.close()
            raise StoreFileError(_version_advice(self.path, version))
        self._conn = conn
        return conn


def _version_advice(path: Path, version: int) -> str:
    if version < min(SCHEMA_VERSIONS):
        return (
            f"{path} has schema version {version}, older than this store reads "
            f"({', '.join(map(str, SCHEMA_VERSIONS))}): start the service once on it "
            "(python -m service serve --db FILE) to upgrade it"
        )
    return (
        f"{path} has schema version {version}, newer than this store reads "
        f"({', '.join(map(str, SCHEMA_VERSIONS))}): use the segment_sync_sdk of that "
        "service"
    )
