"""The SDKs' index on SQLite, merged from the hash log (service/sqlite/hashes.py).

Requests append their members' hashes to member_hash_log in the group commit; the
writer merges the log into member_hashes, which segment_sync_sdk's Big Segment store
reads, in steps of whole commits. A model of the members (Python sets and sha256, not
the store's SQL) says what member_hashes must hold after any number of requests and
merges: the state after some prefix of the commits, never half of one, that prefix
growing, everything once the log is empty, and a "synchronized on" that never claims a
commit not merged yet.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from segment_sync_sdk.layout import context_digest
from service.sqlite import hashes
from service.sqlite.database import Database, now_ms
from service.sqlite.store import SqliteSegmentStore
from service.sqlite.writer import GroupWriter
from service.store import ContextKindConflict

from .test_store_contract import ENV, change, sync

KEYS = [f"u{i}" for i in range(6)]
COHORTS = ["a", "b"]
keys = st.lists(st.sampled_from(KEYS), max_size=4)
request = st.tuples(st.sampled_from(COHORTS), keys, keys)


class RecordingWriter(GroupWriter):
    """The group writer with no merge of its own but at close (tests merge when they
    say so), counting its batches: one commit each."""

    def __init__(self, store: SqliteSegmentStore) -> None:
        self.batches = 0
        super().__init__(store, merge_every=None, merge_idle=None, merge_backlog=None)

    def _apply_batch(self, batch) -> None:
        self.batches += 1
        super()._apply_batch(batch)


async def all_at_once(writer, requests) -> list:
    """Every (sync, refused) handed over in one turn of the loop: one batch."""
    tasks = [asyncio.ensure_future(writer.apply(ENV, request)) for request in requests]
    return await asyncio.gather(*tasks, return_exceptions=True)


def index(path) -> frozenset[tuple[int, bytes]]:
    """What the SDKs read: member_hashes, through a connection of its own."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT segment_id, context_hash FROM member_hashes")
        return frozenset(rows)


def log_rows(path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT COUNT(*) FROM member_hash_log").fetchone()[0]


def synchronized_on(path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT synchronized_on FROM store_metadata").fetchone()
        return 0 if row is None else row[0]


class HashLogMachine(RuleBasedStateMachine):
    """Batches of requests through the real group writer, merge steps of any size, the
    heartbeat, closing and reopening; the SDKs' index checked against the model."""

    @initialize()
    def open_store(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="hash-log-"))
        self.path = self.folder / "segments.db"
        self.store = SqliteSegmentStore(Database(self.path))
        self.writer = RecordingWriter(self.store)
        self.members: dict[str, set[str]] = {cohort: set() for cohort in COHORTS}
        self.ids: dict[str, int] = {}
        # the index after each commit (0: before any), with the time each commit
        # finished by: every commit from time T on committed at T or later
        self.snapshots: list[frozenset[tuple[int, bytes]]] = [frozenset()]
        self.finished_by: list[int] = [0]
        self.merged = 0  # the longest prefix of commits the index has shown

    def teardown(self) -> None:
        if hasattr(self, "writer"):
            self.writer.close()
            self.store.close()
            shutil.rmtree(self.folder)

    def model(self) -> frozenset[tuple[int, bytes]]:
        return frozenset(
            (self.ids[cohort], context_digest(key))
            for cohort, keys in self.members.items()
            for key in keys
        )

    @rule(requests=st.lists(request, min_size=1, max_size=3), refuse=st.booleans())
    def commit(self, requests, refuse) -> None:
        syncs = [sync(change(c, added, removed)) for c, added, removed in requests]
        refused = None
        if refuse and self.ids:  # a 409 inside the batch: leaves no row in the log
            refused = sync(change(next(iter(self.ids)), ["u0"]), kind="account")
            syncs.insert(len(syncs) // 2, refused)
        batches = self.writer.batches
        outcomes = asyncio.run(all_at_once(self.writer, syncs))
        assert self.writer.batches == batches + 1  # one commit
        for request_, outcome in zip(syncs, outcomes):
            if request_ is refused:
                assert isinstance(outcome, ContextKindConflict)
                continue
            assert isinstance(outcome, list), outcome
            segment = request_.changes[0]
            cohort = segment.cohort_id
            segment_row = self.store.get_segment(ENV, f"amplitude-{cohort}")
            self.ids.setdefault(cohort, segment_row.generation)
            self.members[cohort] |= set(segment.added)
            self.members[cohort] -= set(segment.removed)
        self.snapshots.append(self.model())
        self.finished_by.append(now_ms())

    @rule(max_rows=st.integers(1, 12))
    def merge_step(self, max_rows) -> None:
        with self.store.db.write() as tx:
            hashes.merge_step(tx, max_rows)

    @rule()
    def heartbeat(self) -> None:
        self.store.mark_synchronized()

    @precondition(lambda self: len(self.snapshots) > 1)
    @rule()
    def close_and_reopen(self) -> None:
        """Closing merges what is left; a new writer over the file goes on from it."""
        self.writer.close()
        self.store.close()
        assert log_rows(self.path) == 0
        assert index(self.path) == self.model()
        self.store = SqliteSegmentStore(Database(self.path))
        self.writer = RecordingWriter(self.store)

    @invariant()
    def the_index_is_the_model_after_a_prefix_of_whole_commits(self) -> None:
        if not hasattr(self, "writer"):
            return
        seen = index(self.path)
        # the longest prefix it matches (snapshots repeat after a commit changing none)
        prefixes = [n for n, snapshot in enumerate(self.snapshots) if snapshot == seen]
        assert prefixes, "member_hashes holds part of a commit"
        assert max(prefixes) >= self.merged, "member_hashes went back"
        self.merged = max(prefixes)
        if log_rows(self.path) == 0:
            assert seen == self.model()
        # "synchronized on" T claims every commit that finished before T
        claimed = synchronized_on(self.path)
        claims = [n for n, moment in enumerate(self.finished_by) if moment < claimed]
        assert (
            max(claims, default=0) <= self.merged
        ), "synchronized_on claims an unmerged commit"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_sdk_index_follows_the_requests_merged_whole_commits_at_a_time():
    HashLogMachine.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    HashLogMachine.TestCase().runTest()
