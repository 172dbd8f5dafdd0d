"""The SQLite segment store: segments and members in one file, one transaction per request."""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Optional

from generated import SegmentChange, SyncRequest

from ..heartbeat import SYNCHRONIZED_EVERY, Heartbeat
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
from . import hashes
from .database import Database

log = logging.getLogger("service.store")

# Large changes are written in chunks of this many members, each followed by a progress line.
PROGRESS_EVERY = 50_000

_SEGMENT_COLUMNS = (
    "key, name, description, tags, context_kind, integration_key, cohort_id, "
    "cohort_url, member_count, created_at, updated_at, id"  # id: the generation
)
# Members go to SQLite as one JSON array per statement: one statement step instead of
# one per member, so the writer's thread releases the GIL once, not once per row (each
# re-acquisition may wait for the event loop's thread), and about 1.3x (100 members) to
# 1.8x (100,000) faster. Keys holding NUL, which json_each would cut short, go row by row.
_ADD_MEMBERS = (
    "INSERT OR IGNORE INTO members (segment_id, context_key) "
    "SELECT ?, value FROM json_each(?)"
)
_REMOVE_MEMBERS = (
    "DELETE FROM members WHERE segment_id = ? "
    "AND context_key IN (SELECT value FROM json_each(?))"
)
_ADD_MEMBER = "INSERT OR IGNORE INTO members (segment_id, context_key) VALUES (?, ?)"
_REMOVE_MEMBER = "DELETE FROM members WHERE segment_id = ? AND context_key = ?"
_ROW_BY_ROW = {_ADD_MEMBERS: _ADD_MEMBER, _REMOVE_MEMBERS: _REMOVE_MEMBER}


@dataclass
class Batch:
    """What the requests of one write transaction share, so each costs fewer statements:
    the segment rows already read or created, and each segment's member-count change,
    written once per segment by flush() just before the COMMIT, with the commit's entry
    in member_hash_commits when its requests logged hashes for the SDKs (hashes.py)."""

    rows: dict[tuple[str, str], tuple[int, str, str]] = field(default_factory=dict)
    counts: dict[int, list[int]] = field(default_factory=dict)  # id -> [delta, now]
    logged: int = 0  # rows the requests applied so far appended to member_hash_log
    committed_at: Optional[int] = None  # epoch ms, set by flush when logged

    def flush(self, tx: sqlite3.Connection) -> None:
        tx.executemany(
            "UPDATE segments SET member_count = member_count + ?, updated_at = ? "
            "WHERE id = ?",
            [
                (delta, now, segment_id)
                for segment_id, (delta, now) in self.counts.items()
            ],
        )
        self.counts.clear()
        if self.logged:
            self.committed_at = now_ms()
            hashes.record_commit(tx, self.committed_at)


class SqliteSegmentStore:
    """SegmentStore on a Database (see database.py for connections and transactions)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._heartbeat: Optional[Heartbeat] = None

    # --- writes

    def apply(
        self, environment: Environment, sync: SyncRequest, *, may_create: bool = True
    ) -> list[ChangeResult]:
        """The request and a merge of the SDKs' hash log, in one transaction: for callers
        without a writer (scripts, tests), who then see the request in member_hashes. A
        serving service writes through sqlite/writer.py instead, which merges in bounded
        steps between its batches."""
        with self.db.write() as tx:
            batch = Batch()
            results = self.apply_in(tx, batch, environment, sync, may_create=may_create)
            batch.flush(tx)
            hashes.merge_step(tx, max_rows=None)
        return results

    def merge_hash_log(self) -> None:
        """Merge all of the SDKs' hash log now, in one transaction (hashes.py)."""
        with self.db.write() as tx:
            hashes.merge_step(tx, max_rows=None)

    def apply_in(
        self,
        tx: sqlite3.Connection,
        batch: Batch,
        environment: Environment,
        sync: SyncRequest,
        *,
        may_create: bool = True,
    ) -> list[ChangeResult]:
        """apply inside a write transaction the caller opened (the group writer's).

        batch changes only once every write of the request is done, so a request that
        fails midway (rolled back to its savepoint) leaves no trace in it either.
        """
        existing = {
            change.cohort_id: self._segment_row(
                tx, batch, environment, sync.segment_key(change)
            )
            for change in sync.changes
        }
        # Every refusal is decided before the first write, so a refused request
        # leaves no trace even before the rollback.
        self._check_conflicts(sync, existing)
        missing = [
            sync.segment_key(change)
            for change in sync.changes
            if existing[change.cohort_id] is None
        ]
        if missing and not may_create:
            raise CreationRefused(missing)
        now = now_ms()
        rows: dict[tuple[str, str], tuple[int, str, str]] = {}
        counts: dict[int, int] = {}
        logged = 0
        results = []
        for change in sync.changes:
            key = sync.segment_key(change)
            row = existing[change.cohort_id]
            if row is None:
                segment_id = self._create_segment(tx, environment, sync, change, now)
                row = (segment_id, sync.context_kind, sync.integration_key)
                rows[(environment.client_side_id, key)] = row
            added, removed = self._write_change(tx, row[0], key, change)
            logged += hashes.append(tx, row[0], change.added, change.removed)
            if added or removed:
                counts[row[0]] = counts.get(row[0], 0) + added - removed
            results.append(
                ChangeResult(key, existing[change.cohort_id] is None, added, removed)
            )
        batch.rows.update(rows)
        batch.logged += logged
        for segment_id, delta in counts.items():
            batch.counts.setdefault(segment_id, [0, now])
            batch.counts[segment_id][0] += delta
            batch.counts[segment_id][1] = now
        return results

    @staticmethod
    def _segment_row(
        tx: sqlite3.Connection, batch: Batch, environment: Environment, key: str
    ) -> Optional[tuple[int, str, str]]:
        row = batch.rows.get((environment.client_side_id, key))
        if row is None:
            row = tx.execute(
                "SELECT id, context_kind, integration_key FROM segments "
                "WHERE environment_id = ? AND key = ?",
                (environment.client_side_id, key),
            ).fetchone()
            if row is not None:
                batch.rows[(environment.client_side_id, key)] = row
        return row

    @staticmethod
    def _check_conflicts(
        sync: SyncRequest, existing: dict[str, Optional[tuple[int, str, str]]]
    ) -> None:
        for change in sync.changes:
            row = existing[change.cohort_id]
            if row is None:
                continue
            _, kind, integration_key = row
            key = sync.segment_key(change)
            if kind != sync.context_kind:
                raise ContextKindConflict(key, kind, sync.context_kind)
            if integration_key != sync.integration_key:
                raise IntegrationConflict(key, integration_key, sync.integration_key)

    @staticmethod
    def _write_change(
        tx: sqlite3.Connection, segment_id: int, key: str, change: SegmentChange
    ) -> tuple[int, int]:
        """(members really added, really removed) of one change."""
        # Keys in index order: the B-tree fills page by page instead of at random,
        # which makes a million-member insert about 40% faster, sort included.
        added = _write_members(
            tx, _ADD_MEMBERS, segment_id, sorted(change.added), key, "added"
        )
        removed = _write_members(
            tx, _REMOVE_MEMBERS, segment_id, sorted(change.removed), key, "removed"
        )
        return added, removed

    @staticmethod
    def _create_segment(
        tx: sqlite3.Connection,
        environment: Environment,
        sync: SyncRequest,
        change: SegmentChange,
        now: int,
    ) -> int:
        cursor = tx.execute(
            "INSERT INTO segments (environment_id, key, name, context_kind, "
            "integration_key, cohort_id, cohort_url, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                environment.client_side_id,
                sync.segment_key(change),
                change.cohort_name,
                sync.context_kind,
                sync.integration_key,
                change.cohort_id,
                change.cohort_url,
                now,
                now,
            ),
        )
        assert cursor.lastrowid is not None  # an INSERT that succeeded has a row id
        return cursor.lastrowid

    def update_details(
        self, environment: Environment, key: str, patch: DetailsPatch
    ) -> Optional[Segment]:
        assignments: list[str] = []
        values: list[object] = []
        if patch.name is not None:
            assignments.append("name = ?")
            values.append(patch.name)
        if patch.description is not None:
            assignments.append("description = ?")
            values.append(patch.description)
        if patch.tags is not None:
            assignments.append("tags = ?")
            values.append(json.dumps(list(patch.tags)))
        with self.db.write() as tx:
            if assignments:
                tx.execute(
                    f"UPDATE segments SET {', '.join(assignments)}, updated_at = ? "
                    "WHERE environment_id = ? AND key = ?",
                    (*values, now_ms(), environment.client_side_id, key),
                )
            row = tx.execute(
                f"SELECT {_SEGMENT_COLUMNS} FROM segments "
                "WHERE environment_id = ? AND key = ?",
                (environment.client_side_id, key),
            ).fetchone()
        return None if row is None else _segment(row)

    def mark_synchronized(self) -> None:
        """Tell the SDKs the file is current as of now (they report stale otherwise),
        if it is: when the hash log is empty. Else the merges move it (hashes.py).

        A short transaction of its own, on this thread's connection: it queues on the
        lock the group writer holds for each batch (sqlite/writer.py), never inside one.
        """
        with self.db.write() as tx:
            hashes.mark_synchronized(tx)

    def start_heartbeat(self, every: float = SYNCHRONIZED_EVERY) -> None:
        """Mark the file synchronized every few seconds until close (serve does)."""

        def beat() -> None:
            # checkpoints are the writer's checkpointer's: never inside this COMMIT,
            # which holds the lock the writer's next batch waits for
            self.db.connection().execute("PRAGMA wal_autocheckpoint = 0")
            self.mark_synchronized()

        self._heartbeat = Heartbeat(beat, every)
        self._heartbeat.start()

    # --- reads

    def list_segments(
        self, environment: Environment, limit: int, after: Optional[str] = None
    ) -> list[Segment]:
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {_SEGMENT_COLUMNS} FROM segments "
                "WHERE environment_id = ? AND key > ? ORDER BY key LIMIT ?",
                (environment.client_side_id, after or "", limit),
            ).fetchall()
        return [_segment(row) for row in rows]

    def get_segment(self, environment: Environment, key: str) -> Optional[Segment]:
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT {_SEGMENT_COLUMNS} FROM segments "
                "WHERE environment_id = ? AND key = ?",
                (environment.client_side_id, key),
            ).fetchone()
        return None if row is None else _segment(row)

    def is_included(
        self, environment: Environment, key: str, context_key: str
    ) -> Optional[bool]:
        with self.db.read() as conn:
            segment_id = _segment_id(conn, environment, key)
            if segment_id is None:
                return None
            row = conn.execute(
                "SELECT 1 FROM members WHERE segment_id = ? AND context_key = ?",
                (segment_id, context_key),
            ).fetchone()
        return row is not None

    def members(
        self,
        environment: Environment,
        key: str,
        limit: int,
        after: Optional[str] = None,
    ) -> Optional[list[str]]:
        with self.db.read() as conn:
            segment_id = _segment_id(conn, environment, key)
            if segment_id is None:
                return None
            rows = conn.execute(
                "SELECT context_key FROM members WHERE segment_id = ? "
                "AND context_key > ? ORDER BY context_key LIMIT ?",
                (segment_id, after or "", limit),
            ).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop(timeout=self.db.busy_timeout + 1)
        self.db.close()


def _write_members(
    tx: sqlite3.Connection,
    sql: str,
    segment_id: int,
    keys: list[str],
    key: str,
    verb: str,
) -> int:
    """Run sql for the member keys; the number of rows that really changed."""
    if not keys:
        return 0
    if len(keys) <= PROGRESS_EVERY:
        return _write_chunk(tx, sql, segment_id, keys)
    changed = 0
    for start in range(0, len(keys), PROGRESS_EVERY):
        chunk = keys[start : start + PROGRESS_EVERY]
        changed += _write_chunk(tx, sql, segment_id, chunk)
        done = min(start + PROGRESS_EVERY, len(keys))
        log.info(
            "segment %s: %d of %d members %s (not committed yet)",
            key,
            done,
            len(keys),
            verb,
        )
    return changed


def _write_chunk(
    tx: sqlite3.Connection, sql: str, segment_id: int, keys: list[str]
) -> int:
    text = json.dumps(keys, ensure_ascii=False)
    if "\\u0000" in text:
        rows = zip(repeat(segment_id), keys)
        return tx.executemany(_ROW_BY_ROW[sql], rows).rowcount
    return tx.execute(sql, (segment_id, text)).rowcount


def _segment_id(
    conn: sqlite3.Connection, environment: Environment, key: str
) -> Optional[int]:
    row = conn.execute(
        "SELECT id FROM segments WHERE environment_id = ? AND key = ?",
        (environment.client_side_id, key),
    ).fetchone()
    return None if row is None else row[0]


def _segment(row: tuple[Any, ...]) -> Segment:
    """A Segment from a row of _SEGMENT_COLUMNS (same order as the dataclass)."""
    key, name, description, tags, *rest = row
    return Segment(key, name, description, tuple(json.loads(tags)), *rest)
