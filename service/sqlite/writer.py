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
otherwise wait for them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence

from ..store import StoreError, StoreUnavailable
from ..writer import BatchingWriter, Job
from .database import store_error
from .store import Batch, SqliteSegmentStore

log = logging.getLogger("service.writer")

CHECKPOINT_SECONDS = 0.5


class BatchAborted(Exception):
    """SQLite rolled the whole transaction back itself (disk full, I/O error...)."""


class GroupWriter(BatchingWriter):
    """The SQLite store's writer: batches of syncs, one transaction and one commit each."""

    def __init__(self, store: SqliteSegmentStore) -> None:
        self.store = store
        self.db = store.db
        self._stop = threading.Event()
        super().__init__(self._apply_batch, name="sqlite-writer")
        self._checkpointer = threading.Thread(
            target=self._checkpoint_now_and_then, name="sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _started(self) -> None:
        # this thread's connection never checkpoints: _checkpoint_now_and_then does
        self.db.connection().execute("PRAGMA wal_autocheckpoint = 0")

    def _checkpoint_now_and_then(self) -> None:
        while not self._stop.wait(CHECKPOINT_SECONDS):
            try:
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
        except (
            Exception
        ) as error:  # BEGIN or COMMIT failed: nothing of the batch landed
            unavailable = error if isinstance(error, StoreUnavailable) else None
            if unavailable is None:
                log.error("a batch of %d syncs failed to commit: %r", len(batch), error)
            for job in batch:
                job.outcome = StoreUnavailable(
                    str(unavailable or f"segment store unavailable: {error}")
                )
            return

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
            if isinstance(error, (StoreError, Exception)):
                return error
            raise
        tx.execute("RELEASE request")
        return results
