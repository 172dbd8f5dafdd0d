"""Group commit: every sync waiting is applied in one transaction, one fsync for them all.

The writer's thread takes the requests waiting (writer.BatchingWriter), opens one
`BEGIN IMMEDIATE`, applies each request inside its own SAVEPOINT and commits once, with
`synchronous = FULL` kept: each request is answered only after that COMMIT is on disk.

- A request refused inside the batch (409, the 403 of createSegment) is rolled back to
  its savepoint: it leaves no trace, and its batch-mates land.
- A failed COMMIT (or a BEGIN that cannot get the lock within the busy timeout) answers
  503 to every request of the batch, and none of them is applied.
- A crash (kill -9) before the COMMIT reaches the disk loses the whole batch, none of
  which was acknowledged; after it, all of it is there.

Checkpoints (copying the WAL back into the database file, with its own fsync) run in a
thread of their own, every CHECKPOINT_SECONDS, instead of inside whichever COMMIT
crosses SQLite's 1000-page mark: that COMMIT, and every request of its batch, would
otherwise wait for them. Under a steady load those passes never catch up (batches
append meanwhile), and SQLite starts the WAL over only after a checkpoint that copied
all of it: so every RESTART_SECONDS the writer, between two batches, copies what came
since the last pass itself (about a millisecond), and its next batch writes the WAL
from its start again. Without it the WAL grew for as long as the load lasted (10 MB/s
at 4,000 one-member requests/s), and every COMMIT extended the file, whose fdatasync
costs more: 0.34 to 0.46 ms (median) against 0.18 to 0.23 ms when the WAL is written
over, for batches of 8 one-member requests.

Between batches the writer merges the SDKs' hash log into their index (hashes.py), in
steps of whole commits and at most MERGE_ROWS rows (but for a single larger request),
each its own transaction. Steps are due, one after another until none is, whenever:

- the oldest commit not merged is MERGE_EVERY seconds old: so under a steady load the
  SDKs see a sync about a second after its 204, and "synchronized on" lags by as much;
- the log holds MERGE_ROWS rows or more: a full step's worth, merged at once, since
  larger steps cost fewer page writes per row (each touches pages of the index
  spread over the whole B-tree);
- no request has come for MERGE_IDLE seconds: an idle writer catches up at once.

Once the merges have written enough of member_hashes_recent (hashes.FOLD_ROWS says how
much), the writer folds it into member_hashes, a slice a step, whenever no merge step is
due: merges go first, since they bound what the SDKs lag. Requests that came during a
step are taken before the next step, so a backlog holds no sync for longer than one
step. A service started on a file whose log holds rows (a run
killed before merging them) merges them as soon as it starts, as an idle writer does.
Closing merges what is left for up to CLOSE_MERGE_SECONDS; the rest waits for the next
start.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from typing import Optional

from .. import metrics
from ..store import StoreUnavailable, now_ms
from ..writer import BatchingWriter, Job
from . import hashes
from .database import store_error
from .hashes import Pending
from .store import Batch, SqliteSegmentStore

log = logging.getLogger("service.writer")

CHECKPOINT_SECONDS = 0.5
RESTART_SECONDS = 1.0  # how often the writer lets the WAL start over (see above)
MERGE_EVERY = 1.0  # seconds: the most the SDKs lag a commit while merges keep up
MERGE_IDLE = 0.05  # seconds without a request after which the writer merges the log
MERGE_RETRY = 1.0  # seconds between attempts while merging fails (a full disk, a lock)
CLOSE_MERGE_SECONDS = 5.0
# a log this long when a step begins earns a progress line, and so does every tenth
# step after it, so that an operator sees a large backlog shrink
PROGRESS_ROWS = 200_000


class BatchAborted(Exception):
    """SQLite rolled the whole transaction back itself (disk full, I/O error...)."""


class GroupWriter(BatchingWriter):
    """The SQLite store's writer: batches of syncs, one transaction and one commit each."""

    def __init__(
        self,
        store: SqliteSegmentStore,
        *,
        merge_rows: int = hashes.MERGE_ROWS,
        merge_every: Optional[float] = MERGE_EVERY,
        merge_idle: Optional[float] = MERGE_IDLE,
        merge_backlog: Optional[int] = hashes.MERGE_ROWS,
        fold_rows: int = hashes.FOLD_ROWS,
        fold_min_rows: int = hashes.FOLD_MIN_ROWS,
    ) -> None:
        """merge_every, merge_idle, merge_backlog None: never merge for that reason
        (tests merge when they say so, or at close)."""
        self.store = store
        self.db = store.db
        self._stop = threading.Event()
        self.merge_rows = merge_rows
        self.merge_every = merge_every
        self.merge_idle = merge_idle
        self.merge_backlog = merge_backlog
        self._log = Pending(0, None)  # what the hash log holds, as the writer knows it
        self._last_failure = 0.0  # monotonic time of the last failed step
        self._steps = 0  # steps since the log was last empty
        self._merge_failing = False
        self._wal_restarted = time.monotonic()  # when the writer last copied the WAL
        self._checkpointing = (
            threading.Lock()
        )  # held by a checkpoint pass (_checkpoint)
        # the recent level of the SDKs' index, as the writer knows it (read at start)
        self._recent = hashes.RecentLevel(0, fold_min_rows, fold_rows, fold_min_rows)
        self._fold_retry_at = 0.0  # monotonic: no fold before (after a failed one)
        super().__init__(name="sqlite-writer")
        self._checkpointer = threading.Thread(
            target=self._checkpoint_now_and_then, name="sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _started(self) -> None:
        # this thread's connection checkpoints only in _restart_wal, between batches
        conn = self.db.connection()
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        metrics.watch_hash_log(lambda: self._log.rows, self.sdk_lag)
        self._log = hashes.pending(conn)
        self._recent = hashes.recent_level(
            conn, self._recent.fold_rows, self._recent.min_rows
        )
        if self._log.rows:
            log.info(
                "the SDKs' hash log holds %d rows not merged yet (the last run stopped "
                "before merging them): merging them now",
                self._log.rows,
            )

    def sdk_lag(self) -> float:
        """Seconds since the oldest commit the SDKs' index does not reflect yet; 0."""
        oldest = self._log.oldest_committed_at
        return 0.0 if oldest is None else max(0.0, (now_ms() - oldest) / 1000)

    # --- merging the SDKs' hash log between batches

    def _between_batches(self) -> Optional[float]:
        """The WAL's restart when due, then merge steps while one is due; the seconds
        until the next merge step is."""
        if time.monotonic() - self._wal_restarted >= RESTART_SECONDS:
            self._restart_wal()
        while True:
            wait = self._merge_due_in() if self._log.rows else None
            if wait is not None and wait <= 0:  # merges first: they bound the SDKs' lag
                self._merge_step()
            elif self._fold_due():
                self._fold_step()
            else:
                return wait
            if self.waiting():
                return 0  # the requests that came meanwhile first

    def _merge_due_in(self) -> Optional[float]:
        """Seconds until a merge step is due (0: now); None: not before a request."""
        now = time.monotonic()
        if self._merge_failing:  # not step after step against a full disk
            return max(0.0, self._last_failure + MERGE_RETRY - now)
        if self.merge_backlog is not None and self._log.rows >= self.merge_backlog:
            return 0.0
        due = []
        if self.merge_every is not None:
            due.append(max(0.0, self.merge_every - self.sdk_lag()))
        if self.merge_idle is not None and not self.waiting():
            due.append(max(0.0, self.last_batch_done + self.merge_idle - now))
        return min(due) if due else None

    def _merge_step(self) -> Optional[hashes.Step]:
        """One step in a transaction of its own; None when it failed or had nothing."""
        if self._log.rows >= PROGRESS_ROWS and self._steps % 10 == 0:
            log.info(
                "merging the SDKs' hash log: %d rows to go, %.1f s behind",
                self._log.rows,
                self.sdk_lag(),
            )
        started = time.monotonic()
        try:
            with self.db.write() as tx:
                step = hashes.merge_step(tx, self.merge_rows)
        except Exception as error:  # StoreUnavailable, or a bug: rolled back, retried
            if not self._merge_failing:
                log.warning("merging the SDKs' hash log failed (retried): %s", error)
            self._merge_failing = True
            self._last_failure = time.monotonic()
            return None
        metrics.observe_merge(
            time.monotonic() - started, 0 if step is None else step.merged
        )
        if self._merge_failing:
            log.info("merging the SDKs' hash log works again")
        self._merge_failing = False
        self._steps += 1
        self._log = Pending(0, None) if step is None else step.left
        if step is not None:
            self._recent = self._recent.merged(step)
        if step is not None and not self._log.rows and self._steps > 10:
            log.info("the SDKs' hash log is merged (%d steps)", self._steps)
        if not self._log.rows:
            self._steps = 0
        return step

    def _fold_due(self) -> bool:
        if self._merge_failing or time.monotonic() < self._fold_retry_at:
            return False  # not step after step against a full disk
        return self._recent.due()

    def _fold_step(self) -> None:
        """One slice of the recent level into member_hashes, in a transaction of its
        own; what the writer knows of the level changes only once it is committed."""
        try:
            with self.db.write() as tx:
                level = hashes.fold_step(tx, self._recent)
        except Exception as error:  # StoreUnavailable, or a bug: retried later
            log.warning("folding the SDKs' index failed (retried): %s", error)
            self._fold_retry_at = time.monotonic() + MERGE_RETRY
            return
        self._recent = level

    def _stopping(self) -> None:
        deadline = time.monotonic() + CLOSE_MERGE_SECONDS
        while self._log.rows and time.monotonic() < deadline:
            if self._merge_step() is None:
                break
        if self._log.rows:
            log.info(
                "%d rows of the SDKs' hash log are left to merge at the next start",
                self._log.rows,
            )

    def _restart_wal(self) -> None:
        """Copy the rest of the WAL back, so that the next batch starts it over: on
        this thread, nothing writes meanwhile, so the pass copies all of it (but what a
        reader of an older snapshot still needs: that waits for the next time)."""
        self._wal_restarted = time.monotonic()
        self._checkpoint()

    def _checkpoint_now_and_then(self) -> None:
        while not self._stop.wait(CHECKPOINT_SECONDS):
            self._checkpoint()

    def _checkpoint(self) -> None:
        """One checkpoint on this thread's connection; a failure is retried later.

        One at a time: SQLite answers a pass that meets another one busy, and it copies
        nothing, so the WAL's restart would silently wait for its next turn while the
        file grew (seen under the test suite's load: 0.8 to 2 MB in a second)."""
        try:
            with self._checkpointing:
                # PASSIVE: copies what no reader still needs, never blocks a writer
                self.db.connection().execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as error:
            log.warning("checkpoint failed (retried later): %s", error)

    def close(self) -> None:
        super().close()
        self._stop.set()
        self._checkpointer.join(timeout=10)

    def _apply_batch(self, batch: Sequence[Job]) -> None:
        try:
            with self.db.write() as tx:
                shared = Batch()
                for job in batch:
                    job.outcome = self._apply_one(tx, shared, job)
                shared.flush(tx)  # member counts: one UPDATE per segment
        except Exception as error:
            # BEGIN or COMMIT failed, or SQLite aborted the batch: nothing of it landed
            message = str(error)
            if not isinstance(error, StoreUnavailable):
                log.error("a batch of %d syncs failed to commit: %r", len(batch), error)
                message = f"segment store unavailable: {error}"
            for job in batch:
                job.outcome = StoreUnavailable(message)
            return
        if shared.logged:
            rows = self._log.rows + shared.logged
            self._log = Pending(
                rows, self._log.oldest_committed_at or shared.committed_at
            )

    def _apply_one(self, tx: sqlite3.Connection, shared: Batch, job: Job) -> object:
        """One request in its savepoint: its results, or what refused it (rolled back)."""
        tx.execute("SAVEPOINT request")
        try:
            results = self.store.apply_in(
                tx, shared, job.environment, job.sync, may_create=job.may_create
            )
        except BaseException as error:
            if not tx.in_transaction:
                # SQLite already rolled back everything: batch-mates applied before are
                # gone too, so the whole batch fails (503) rather than half of it.
                raise BatchAborted(str(error)) from error
            tx.execute("ROLLBACK TO request")
            tx.execute("RELEASE request")
            if isinstance(error, sqlite3.Error):
                return store_error(error)
            if isinstance(error, Exception):  # a StoreError for the caller, or a bug
                return error
            raise
        tx.execute("RELEASE request")
        return results
