"""The SDKs' index, kept from a log: requests append to it, merges and folds apply it.

LaunchDarkly's SDKs ask a Big Segment store for the segments of a context hash, and
segment_sync_sdk/sqlite.py answers from member_hashes and member_hashes_recent, keyed by
that hash. Written by each request, such a B-tree is what made small syncs slow: every
new hash lands on a random page, so a commit of 100 new members wrote about 105 pages to
the WAL where the members themselves took 4. So:

- A request appends one row per member to member_hash_log, (hash, segment, added or
  removed), inside its own savepoint: its rowids increase, so its pages fill one after
  another (about one page per 100 members), and a request refused, failing or whose
  COMMIT fails leaves no row. Each COMMIT that appended rows records its last rowid and
  its time in member_hash_commits.
- merge_step() applies the oldest rows to member_hashes_recent: whole commits only, as
  many as fit in MERGE_ROWS rows, and at least one (a request of more than MERGE_ROWS
  members is alone in its commit, whose merge then takes about as long as the request's
  own transaction did), so that the SDKs see each group commit, so each request, whole
  or not at all. The last operation per (hash, segment) wins, a removal kept as a row
  that hides member_hashes' one; the rows and their commits are deleted;
  store_metadata.synchronized_on moves to now when the log is left empty, else to the
  time of the newest commit merged. All in the caller's one transaction, so a crash
  mid-merge rolls it back and the next merge does it again; applying a prefix of the log
  twice gives what applying it once does.
- fold_step() moves a slice of member_hashes_recent, in key order, into member_hashes
  (see FOLD_ROWS for when and why): what a reader sees is the same before and after.
  A merge into member_hashes itself touched about one page of it per row once the
  index outgrew the steps; the recent level stays small, and a slice of it covers one
  contiguous range of member_hashes.
- The group writer (writer.py) merges and folds between its batches;
  SqliteSegmentStore.apply, for callers without a writer (scripts, tests), merges the
  whole log in the request's own transaction, as the hashes were written before the log.

So "synchronized on" never runs ahead of the index: every commit made up to that time
is merged. While the log holds rows, nothing else moves it (the heartbeat says "now" only
over an empty log).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Optional

from segment_sync_sdk.layout import context_digest

from ..store import now_ms

# Rows of the log one merge step applies at most (but for one commit larger than that):
# its transaction held the writer for about 0.15 s over a 1.3-million-hash index on an
# idle machine, its rows on most of the B-tree's pages. Larger steps write fewer pages
# per row, smaller ones hold the writer for less.
MERGE_ROWS = 20_000

# The recent level (member_hashes_recent) is folded into member_hashes, FOLD_ROWS rows
# a slice, once it holds sqrt(members * FOLD_ROWS) rows (at least FOLD_MIN_ROWS). Per
# FOLD_ROWS rows that come, a merge touches about all the recent level's r/90 pages (90
# rows a page) and a slice r/FOLD_ROWS-th of member_hashes' N/90: r/90 + N*FOLD_ROWS/(90r)
# pages, least at that r. A merge straight into member_hashes touched about one page a
# row up to N/90 (bench: 79 MB of WAL per 20,000 rows at 4 million members).
FOLD_MIN_ROWS = 50_000
FOLD_ROWS = 20_000

_DIGEST = 32  # bytes of a sha256

# A request's rows in one statement: its digests go in as one blob, cut by a counter
# (sqlite 3.40 has neither unhex nor generate_series). One statement instead of
# executemany's one step per row (each of which takes the GIL back): about 6x faster.
_APPEND = (
    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) "
    "INSERT INTO member_hash_log (context_hash, segment_id, added) "
    "SELECT substr(?, i * 32 + 1, 32), ?, ? FROM n"
)
# The log's last row by one descent of its rowid B-tree: MAX(id) beside a WHERE or HAVING
# (the WHERE is what SQLite's grammar asks of an upsert from a SELECT) was a scan of the
# whole log instead, once per commit: 5 ms per batch behind 240,000 rows not merged yet.
_RECORD_COMMIT = (
    "INSERT INTO member_hash_commits (last_log_id, committed_at) "
    "SELECT id, ? FROM (SELECT id FROM member_hash_log ORDER BY id DESC LIMIT 1) "
    "WHERE true "
    "ON CONFLICT (last_log_id) DO UPDATE SET committed_at = excluded.committed_at"
)
# The last operation per (hash, segment) among the rows up to ?1: with one MAX(),
# SQLite takes the bare columns (added) from the row holding the maximum. The GROUP BY's
# sorter hands the rows over in hash order, as the B-tree fills best.
_LAST_OPERATIONS = (
    "SELECT context_hash, segment_id, added, MAX(id) FROM member_hash_log "
    "WHERE id <= ?1 GROUP BY context_hash, segment_id"
)
# Into the recent level, the last operation winning over what it held (WHERE true: the
# upsert-from-SELECT grammar).
_MERGE = (
    "INSERT INTO member_hashes_recent (context_hash, segment_id, added) "
    f"SELECT context_hash, segment_id, added FROM ({_LAST_OPERATIONS}) WHERE true "
    "ON CONFLICT (context_hash, segment_id) DO UPDATE SET added = excluded.added"
)
# A fold's slice of the recent level: the rows after (?1, ?2) up to (?3, ?4), in key order.
_SLICE = (
    "(context_hash, segment_id) > (?1, ?2) AND (context_hash, segment_id) <= (?3, ?4)"
)
_SLICE_END = (
    "SELECT context_hash, segment_id FROM member_hashes_recent "
    "WHERE (context_hash, segment_id) > (?, ?) "
    "ORDER BY context_hash, segment_id LIMIT 1 OFFSET ?"
)
_LAST_RECENT = (
    "SELECT context_hash, segment_id FROM member_hashes_recent "
    "ORDER BY context_hash DESC, segment_id DESC LIMIT 1"
)
_FOLD_ADDED = (
    "INSERT OR IGNORE INTO member_hashes (context_hash, segment_id) "
    f"SELECT context_hash, segment_id FROM member_hashes_recent WHERE {_SLICE} AND added"
)
_FOLD_REMOVED = (
    "DELETE FROM member_hashes WHERE (context_hash, segment_id) IN ("
    "SELECT context_hash, segment_id FROM member_hashes_recent "
    f"WHERE {_SLICE} AND NOT added)"
)
_FOLD_DELETE = f"DELETE FROM member_hashes_recent WHERE {_SLICE}"
# Every (hash, segment) of the SDKs' index, both levels together: what a reader sees.
INDEX_PAIRS = (
    "SELECT context_hash, segment_id FROM member_hashes "
    "UNION SELECT context_hash, segment_id FROM member_hashes_recent WHERE added "
    "EXCEPT SELECT context_hash, segment_id FROM member_hashes_recent WHERE NOT added"
)
# Where a fold starts over: before every key (a digest is never empty).
FOLD_START = (b"", -1)
_NEWEST_COMMIT_UP_TO = (
    "SELECT last_log_id, committed_at FROM member_hash_commits "
    "WHERE last_log_id <= ? ORDER BY last_log_id DESC LIMIT 1"
)
_OLDEST_COMMIT_FROM = (
    "SELECT last_log_id, committed_at FROM member_hash_commits "
    "WHERE last_log_id >= ? ORDER BY last_log_id LIMIT 1"
)
# Never backwards: a clock set back must not make an older claim look newer.
_SYNCHRONIZED = (
    "INSERT INTO store_metadata (id, synchronized_on) VALUES (1, ?) "
    "ON CONFLICT (id) DO UPDATE SET "
    "synchronized_on = MAX(synchronized_on, excluded.synchronized_on)"
)


@dataclass(frozen=True)
class Pending:
    """What the log holds: rows not merged yet, and when the oldest of them committed."""

    rows: int
    oldest_committed_at: Optional[int]  # epoch ms; None when the log is empty


@dataclass(frozen=True)
class Step:
    """What one merge step did."""

    merged: int  # log rows applied (before keeping the last one per hash and segment)
    last_id: int  # the log's rowid it merged up to
    left: Pending  # what the log holds after it
    written: int  # rows of the recent level it wrote (new or updated)


def append(
    tx: sqlite3.Connection,
    segment_id: int,
    added: Iterable[str],
    removed: Iterable[str],
) -> int:
    """Log the hashes of a change's added, then removed keys; the rows appended.

    Every added key, not only the new members: a replay repairs what the SDKs read.
    Added first, as members are written, so a key in both ends removed.
    """
    rows = 0
    for keys, was_added in ((added, 1), (removed, 0)):
        digests = sorted(map(context_digest, keys))
        if digests:
            tx.execute(
                _APPEND, (len(digests), b"".join(digests), segment_id, was_added)
            )
            rows += len(digests)
    return rows


def record_commit(tx: sqlite3.Connection, committed_at: int) -> None:
    """Note that the transaction about to commit ends at the log's last row (call it
    last, in the transaction of a batch that appended rows)."""
    tx.execute(_RECORD_COMMIT, (committed_at,))


def pending(conn: sqlite3.Connection) -> Pending:
    """The log's rows (rowids are consecutive: appended at the end, merged from the
    start) and the time of its oldest commit."""
    # two statements: MIN or MAX alone is one descent of the B-tree, both at once a scan
    first = conn.execute("SELECT MIN(id) FROM member_hash_log").fetchone()[0]
    if first is None:
        return Pending(0, None)
    last = conn.execute("SELECT MAX(id) FROM member_hash_log").fetchone()[0]
    oldest = conn.execute(
        "SELECT committed_at FROM member_hash_commits WHERE last_log_id >= ? "
        "ORDER BY last_log_id LIMIT 1",
        (first,),
    ).fetchone()
    return Pending(last - first + 1, None if oldest is None else oldest[0])


def merge_step(
    tx: sqlite3.Connection, max_rows: Optional[int] = MERGE_ROWS
) -> Optional[Step]:
    """Merge the oldest rows of the log (max_rows None: all of it), in the caller's
    write transaction; None when the log is empty."""
    first = tx.execute("SELECT MIN(id) FROM member_hash_log").fetchone()[0]
    if first is None:
        return None
    if max_rows is None:
        limit = tx.execute("SELECT MAX(id) FROM member_hash_log").fetchone()[0]
    else:
        limit = first + max_rows - 1
    # end at the last row of the newest commit that fits whole; when even the oldest
    # does not (a request of more than max_rows members, applied alone), that commit
    # whole all the same: the SDKs never see half of a commit
    whole = (
        tx.execute(_NEWEST_COMMIT_UP_TO, (limit,)).fetchone()
        or tx.execute(_OLDEST_COMMIT_FROM, (first,)).fetchone()
    )
    if whole is None:  # rows no commit noted: cannot happen; merge them, claim nothing
        whole = (tx.execute("SELECT MAX(id) FROM member_hash_log").fetchone()[0], None)
    last_id, committed_at = whole
    written = tx.execute(_MERGE, (last_id,)).rowcount
    merged = tx.execute("DELETE FROM member_hash_log WHERE id <= ?", (last_id,))
    tx.execute("DELETE FROM member_hash_commits WHERE last_log_id <= ?", (last_id,))
    left = pending(tx)
    if left.rows == 0:
        # every commit up to this transaction's is merged: current as of now
        tx.execute("DELETE FROM member_hash_commits")  # none is left to refer to
        tx.execute(_SYNCHRONIZED, (now_ms(),))
    elif committed_at is not None:
        tx.execute(_SYNCHRONIZED, (committed_at,))
    return Step(merged.rowcount, last_id, left, written)


@dataclass(frozen=True)
class RecentLevel:
    """member_hashes_recent as its one writer knows it, and how it folds it."""

    rows: int  # an upper bound: a merge counts the rows it updated as well
    threshold: int  # folds are due from this many rows on (see FOLD_ROWS)
    fold_rows: int = FOLD_ROWS  # rows a fold step moves
    min_rows: int = FOLD_MIN_ROWS  # the threshold's floor
    start: tuple[bytes, int] = FOLD_START  # the next fold starts after this key

    def due(self) -> bool:
        return self.rows >= self.threshold

    def merged(self, step: Step) -> RecentLevel:
        return replace(self, rows=self.rows + step.written)


def recent_level(
    conn: sqlite3.Connection, fold_rows: int = FOLD_ROWS, min_rows: int = FOLD_MIN_ROWS
) -> RecentLevel:
    """The recent level counted (a scan of it) and its threshold: sqrt(members *
    fold_rows), at least min_rows; folds start from the first key."""
    rows = conn.execute("SELECT COUNT(*) FROM member_hashes_recent").fetchone()[0]
    members = conn.execute("SELECT TOTAL(member_count) FROM segments").fetchone()[0]
    threshold = max(min_rows, math.isqrt(int(members) * fold_rows))
    return RecentLevel(int(rows), threshold, fold_rows, min_rows)


def fold_step(tx: sqlite3.Connection, level: RecentLevel) -> RecentLevel:
    """Fold the next level.fold_rows rows after level.start (in key order) into
    member_hashes, in the caller's transaction; the level after it. Past the last key,
    a pass is over: the level is counted again and the next fold starts over.

    The slice's keys are contiguous, so it touches about fold_rows/rows of
    member_hashes' pages, where a merge straight into it touched one page per row.
    """
    end = tx.execute(_SLICE_END, (*level.start, level.fold_rows - 1)).fetchone()
    if end is None:  # fewer than fold_rows left after start: to the end
        end = tx.execute(_LAST_RECENT).fetchone()
        if end is None or tuple(end) <= level.start:
            return recent_level(tx, level.fold_rows, level.min_rows)
    bounds = (*level.start, *end)
    tx.execute(_FOLD_ADDED, bounds)
    tx.execute(_FOLD_REMOVED, bounds)
    moved = tx.execute(_FOLD_DELETE, bounds).rowcount
    rows = max(0, level.rows - moved)
    return replace(level, rows=rows, start=(bytes(end[0]), int(end[1])))


def mark_synchronized(tx: sqlite3.Connection) -> bool:
    """Set "synchronized on" to now if the log is empty (the index is current); else
    leave it to the merges. Whether it was set."""
    if tx.execute("SELECT 1 FROM member_hash_log LIMIT 1").fetchone() is not None:
        return False
    tx.execute(_SYNCHRONIZED, (now_ms(),))
    return True
