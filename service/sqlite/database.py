"""One SQLite file: schema, a connection per thread, transactions, and errors as store errors.

Reads run in threads of a pool, so each thread gets its own connection (sqlite3
connections are not to be shared between threads). Syncs are written by the group
writer's one thread (writer.py); the other writers of this process (PATCH, the registry)
take the same lock before `BEGIN IMMEDIATE`: they queue in Python instead of spinning in
SQLite's busy handler. The busy timeout still covers writers in other processes (the CLI).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from segment_sync_sdk.layout import context_digest

from ..store import StoreUnavailable

log = logging.getLogger("service.store")

# The schema's versions, each upgrading the one before in place when a service opens it:
# 1: the first.
# 2: registry_generation and its triggers (the token caches of cache.py).
# 3: member_hashes and store_metadata, read by LaunchDarkly's SDKs (segment_sync_sdk/),
#    and member_hash_log and member_hash_commits, from which member_hashes is merged
#    (hashes.py). Never released before the log was added, so no version 4 for it: a
#    file of 3 without the log gets its tables on open like any missing table.
# 4: member_hashes_recent, a small level in front of member_hashes that the merges write
#    and that is folded into member_hashes a slice at a time (hashes.py). A reader of 3
#    would miss what it holds, so the version moves; the table starts empty.
SCHEMA_VERSION = 4

SCHEMA = """
CREATE TABLE IF NOT EXISTS environments (
    client_side_id  TEXT PRIMARY KEY,
    project_key     TEXT NOT NULL,
    environment_key TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (project_key, environment_key)
);
CREATE TABLE IF NOT EXISTS tokens (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL,            -- sha256 hex of the whole token; never the token
    role       TEXT NOT NULL,            -- a built-in role, or 'custom'
    actions    TEXT NOT NULL,            -- JSON array: a custom role's actions
    name       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
-- id is also the segment's generation for LaunchDarkly's SDKs ("{key}.g{id}"): unique in
-- the file across environments, as the SDKs' membership answers are keyed by context
-- alone, and never reused (segments are never deleted).
CREATE TABLE IF NOT EXISTS segments (
    id              INTEGER PRIMARY KEY,
    environment_id  TEXT NOT NULL,       -- the environment's client-side id
    key             TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    tags            TEXT NOT NULL DEFAULT '[]',
    context_kind    TEXT NOT NULL,
    integration_key TEXT NOT NULL,
    cohort_id       TEXT NOT NULL,
    cohort_url      TEXT,
    member_count    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (environment_id, key)
);
-- The primary key is the index every membership question uses: "is k in s", a page of
-- s from a cursor, and INSERT OR IGNORE / DELETE by key. No foreign key to segments: it
-- would cost a lookup per member row, and members are only written next to their segment.
CREATE TABLE IF NOT EXISTS members (
    segment_id  INTEGER NOT NULL,
    context_key TEXT NOT NULL,
    PRIMARY KEY (segment_id, context_key)
) WITHOUT ROWID;
-- Bumped by every change of tokens or environments, whoever writes them (this service,
-- the CLI, an operator's sqlite3): a serving process polls it to clear its caches.
CREATE TABLE IF NOT EXISTS registry_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO registry_generation (id, value) VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS tokens_inserted AFTER INSERT ON tokens
BEGIN UPDATE registry_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS tokens_updated AFTER UPDATE ON tokens
BEGIN UPDATE registry_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS tokens_deleted AFTER DELETE ON tokens
BEGIN UPDATE registry_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS environments_inserted AFTER INSERT ON environments
BEGIN UPDATE registry_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS environments_updated AFTER UPDATE ON environments
BEGIN UPDATE registry_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS environments_deleted AFTER DELETE ON environments
BEGIN UPDATE registry_generation SET value = value + 1; END;
-- The segments of a context, as LaunchDarkly's SDKs ask for them: by the sha256 of the
-- context key (segment_sync_sdk/sqlite.py), one indexed lookup. A table of its own rather
-- than an index on members, and merged from member_hash_log rather than written by each
-- request: a new hash lands on a random page of this B-tree, so the merges apply many
-- at once, in hash order (hashes.py).
CREATE TABLE IF NOT EXISTS member_hashes (
    context_hash BLOB NOT NULL,          -- sha256 of the context key, 32 bytes
    segment_id   INTEGER NOT NULL,
    PRIMARY KEY (context_hash, segment_id)
) WITHOUT ROWID;
-- The index's recent level: what the merges applied since it was last folded into
-- member_hashes, one row per (hash, segment) with the last operation, so a removal
-- hides a row of member_hashes until the fold deletes both. Small, so a merge touches
-- few pages; the fold moves it over in hash order, a slice of member_hashes at a time.
CREATE TABLE IF NOT EXISTS member_hashes_recent (
    context_hash BLOB NOT NULL,
    segment_id   INTEGER NOT NULL,
    added        INTEGER NOT NULL,       -- 1 a member, 0 removed (hides member_hashes)
    PRIMARY KEY (context_hash, segment_id)
) WITHOUT ROWID;
-- What the SDKs' index does not hold yet: each request that writes members appends their
-- hashes here in the same savepoint (rowids only grow: its pages fill one after another);
-- the writer merges the oldest rows into member_hashes and deletes them.
CREATE TABLE IF NOT EXISTS member_hash_log (
    id           INTEGER PRIMARY KEY,
    context_hash BLOB NOT NULL,
    segment_id   INTEGER NOT NULL,
    added        INTEGER NOT NULL        -- 1 added, 0 removed
);
-- One row per COMMIT that appended to the log: its last row, and when (epoch ms). A merge
-- that takes a commit's rows whole may say the SDKs' index is current as of that time.
CREATE TABLE IF NOT EXISTS member_hash_commits (
    last_log_id  INTEGER PRIMARY KEY,
    committed_at INTEGER NOT NULL
);
-- One row: the time (epoch ms) as of which member_hashes reflects every commit, set by
-- the merges, and every few seconds by a running service while the log is empty; the
-- SDKs call the store stale when it is old.
CREATE TABLE IF NOT EXISTS store_metadata (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    synchronized_on INTEGER NOT NULL
);
"""

# Result codes that mean "the database cannot be used right now", not "the code is wrong".
_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_CANTOPEN",
    "SQLITE_FULL",
    "SQLITE_READONLY",
    "SQLITE_PROTOCOL",
    "SQLITE_NOTADB",
    "SQLITE_CORRUPT",
    "SQLITE_NOMEM",
)


def store_error(error: sqlite3.Error) -> Exception:
    """StoreUnavailable for an unusable database; the error itself when it is a bug."""
    name = getattr(error, "sqlite_errorname", "") or ""
    if name.startswith(_UNAVAILABLE):
        return StoreUnavailable(f"segment store unavailable: {error} ({name})")
    return error


class Database:
    """A SQLite file in WAL mode, with a connection per thread."""

    def __init__(self, path: str | Path, busy_timeout: float = 5.0) -> None:
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        try:
            self._create_schema()
        except sqlite3.Error as error:
            self.close()
            raise store_error(error) from error

    def _create_schema(self) -> None:
        conn = self.connection()
        # WAL: readers never wait for the writer, and a commit is one append to the log.
        conn.execute("PRAGMA journal_mode = WAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"{self.path} has schema version {version}; this service knows "
                f"{SCHEMA_VERSION}: use a newer service"
            )
        with self.write() as tx:
            # executescript would commit on its own; run the statements in this one
            for statement in _statements(SCHEMA):
                tx.execute(statement)
            if 0 < version < 3:
                _hash_members(tx, self.path, version)
            tx.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,  # autocommit; transactions are explicit BEGINs
                check_same_thread=False,  # only close() crosses threads
            )
            # FULL: a commit is on disk before the partner hears 204, even on power loss.
            conn.execute("PRAGMA synchronous = FULL")
            # 8 MiB per connection: a pool thread each (up to 40), and sorted inserts
            # gain little from more
            conn.execute("PRAGMA cache_size = -8192")
            # after a checkpoint the WAL file shrinks back to 64 MiB at most
            conn.execute("PRAGMA journal_size_limit = 67108864")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees one snapshot."""
        conn = self.connection()
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as error:
            _rollback(conn)
            raise store_error(error) from error

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: all of it commits, or none of it (on any exception)."""
        conn = self.connection()
        with self._write_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise store_error(error) from error
            try:
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as error:
                _rollback(conn)
                raise store_error(error) from error
            except BaseException:
                _rollback(conn)
                raise

    def close(self) -> None:
        """Close every connection (call once no thread uses the database any more)."""
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


def _hash_members(tx: sqlite3.Connection, path: str, version: int) -> None:
    """Schema 1 or 2 to 3: hash every member into member_hashes (in the caller's
    transaction, with the rest of the upgrade: all of it lands, or none)."""
    count = tx.execute("SELECT COUNT(*) FROM members").fetchone()[0]
    log.info(
        "%s: upgrading schema %d to %d, hashing %d members for the SDKs",
        path,
        version,
        SCHEMA_VERSION,
        count,
    )
    started = time.monotonic()
    tx.create_function("context_digest", 1, context_digest, deterministic=True)
    # ORDER BY: SQLite's sorter (bounded memory) fills the table in key order. OR IGNORE:
    # the same whatever hashes the file already holds.
    tx.execute(
        "INSERT OR IGNORE INTO member_hashes (context_hash, segment_id) "
        "SELECT context_digest(context_key), segment_id FROM members ORDER BY 1, 2"
    )
    log.info("%s: upgraded in %.1f s", path, time.monotonic() - started)


def _statements(script: str) -> Iterator[str]:
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer
            buffer = ""


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the connection is gone; SQLite rolls back an unfinished transaction
