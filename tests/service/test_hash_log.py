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
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from base64 import b64encode
from dataclasses import replace
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
from ldclient.integrations import Files

from segment_sync_sdk.layout import context_digest, segment_definition, segment_ref
from segment_sync_sdk.sqlite import SqliteBigSegmentStore
from service.sqlite import hashes
from service.sqlite.database import Database
from service.sqlite.store import Batch, SqliteSegmentStore
from service.sqlite.writer import GroupWriter
from service.store import ContextKindConflict, Environment, now_ms

from .helpers import Service
from .sdks import (
    flag_on_segment,
    python_evaluate,
    python_sdk,
    wait_for_values,
    write_json,
)
from .test_store_contract import ENV, change, sync

KEYS = [f"u{i}" for i in range(6)]
COHORTS = ["a", "b"]
keys = st.lists(st.sampled_from(KEYS), max_size=4)
request = st.tuples(st.sampled_from(COHORTS), keys, keys)


class RecordingWriter(GroupWriter):
    """The group writer with no merge of its own but at close (tests merge when they
    say so), noting the jobs of each batch: one commit each."""

    def __init__(self, store: SqliteSegmentStore) -> None:
        self.batches: list[list] = []
        super().__init__(store, merge_every=None, merge_idle=None, merge_backlog=None)

    def _apply_batch(self, batch) -> None:
        self.batches.append(list(batch))
        super()._apply_batch(batch)


async def all_at_once(writer, requests) -> list:
    """Every sync handed over in one turn of the loop (mostly one batch, but a loaded
    machine may split them); their outcomes in order."""
    tasks = [asyncio.ensure_future(writer.apply(ENV, request)) for request in requests]
    return await asyncio.gather(*tasks, return_exceptions=True)


def index(path) -> frozenset[tuple[int, bytes]]:
    """What the SDKs read: both levels of the index, through a connection of its own."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        pairs = conn.execute(hashes.INDEX_PAIRS)
        return frozenset((segment_id, hash_) for hash_, segment_id in pairs)


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
        self.logged: list[int] = [0]  # log rows appended up to each commit
        self.merged = 0  # the commits merged, as the invariant last found
        self.level = hashes.RecentLevel(0, 0)  # the fold rule's level (its cursor)

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
        seen = len(self.writer.batches)
        outcomes = asyncio.run(all_at_once(self.writer, syncs))
        assert len(outcomes) == len(syncs)
        finished = now_ms()
        for batch in self.writer.batches[seen:]:  # the model after each commit
            rows = 0
            for job in batch:
                if job.sync is refused:
                    assert isinstance(job.outcome, ContextKindConflict)
                    continue
                assert isinstance(job.outcome, list), job.outcome
                segment = job.sync.changes[0]
                cohort = segment.cohort_id
                segment_row = self.store.get_segment(ENV, f"amplitude-{cohort}")
                self.ids.setdefault(cohort, segment_row.generation)
                self.members[cohort] |= set(segment.added)
                self.members[cohort] -= set(segment.removed)
                rows += len(segment.added) + len(segment.removed)
            self.snapshots.append(self.model())
            self.finished_by.append(finished)  # or earlier: a claim on the safe side
            self.logged.append(self.logged[-1] + rows)

    @rule(max_rows=st.integers(1, 12))
    def merge_step(self, max_rows) -> None:
        with self.store.db.write() as tx:
            hashes.merge_step(tx, max_rows)

    @rule(rows=st.integers(1, 12))
    def fold_step(self, rows) -> None:
        """A slice of the recent level folded into member_hashes: the index the same."""
        with self.store.db.write() as tx:
            self.level = hashes.fold_step(tx, replace(self.level, fold_rows=rows))

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
        # the log's rows gone are those of the commits merged: whole commits only
        merged_rows = self.logged[-1] - log_rows(self.path)
        assert merged_rows in self.logged, "part of a commit merged"
        # the last such commit (a commit with no rows is merged as soon as those before)
        merged = max(n for n, rows in enumerate(self.logged) if rows == merged_rows)
        assert merged >= self.merged, "the merges went back"
        self.merged = merged
        assert seen == self.snapshots[merged], "the SDKs' index is not that state"
        # and an SDK's own lookup, hash by hash, reads the same (both levels, one query)
        ids = {segment_id: cohort for cohort, segment_id in self.ids.items()}
        every_hash = {digest for snapshot in self.snapshots for _, digest in snapshot}
        sdk_store = SqliteBigSegmentStore(self.path)
        try:
            for digest in every_hash:
                found = sdk_store.get_membership(b64encode(digest).decode()) or {}
                expected = {
                    segment_ref(f"amplitude-{ids[segment_id]}", segment_id): True
                    for segment_id, hash_ in seen
                    if hash_ == digest
                }
                assert found == expected, "an SDK's lookup disagrees with the index"
        finally:
            sdk_store.stop()
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


def level_rows(path) -> tuple[int, int]:
    """Rows of member_hashes and of its recent level."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        older = conn.execute("SELECT COUNT(*) FROM member_hashes").fetchone()[0]
        recent = conn.execute("SELECT COUNT(*) FROM member_hashes_recent").fetchone()[0]
        return older, recent


def test_the_writer_folds_the_recent_level_once_it_is_large(tmp_path):
    """Merges write the recent level; once it holds fold_min_rows (here 60: more than
    sqrt(members * 20) for these 150 members), the writer folds it into member_hashes
    in slices (here 20 rows) between batches, faster than 5 members a request come, and
    the SDKs' index stays what the members are, removals of members folded already
    included."""
    store = SqliteSegmentStore(Database(tmp_path / "segments.db"))
    writer = GroupWriter(
        store, merge_every=None, merge_idle=None, merge_backlog=10, fold_min_rows=60,
        fold_rows=20,
    )  # fmt: skip
    try:
        members: set[str] = set()
        for n in range(30):
            added = [f"u{n}-{i}" for i in range(5)]
            # a member of ten requests ago: folded into member_hashes by now
            removed = [f"u{n - 10}-0"] if n >= 10 else []
            writer.apply_now(ENV, sync(change("big", added, removed)))
            members = (members | set(added)) - set(removed)
        writer.close()  # merges the last of the log
        older, recent = level_rows(store.db.path)
        assert older > 0, "nothing was folded"
        # at most the threshold, a merge step before a fold's turn and the closing merge
        # (12 rows each at most): without folds it would hold 150 hashes and 20 removals
        assert recent <= 60 + 2 * 12, "the recent level kept growing"
        segment_id = store.get_segment(ENV, "amplitude-big").generation
        expected = {(segment_id, context_digest(key)) for key in members}
        assert index(store.db.path) == expected
    finally:
        writer.close()
        store.close()


def test_an_open_sdk_reader_follows_the_upgrade_to_the_recent_level(tmp_path):
    """A file of schema 3 (no recent level), read by an SDK; a service then opens it
    (schema 4) and merges a sync into the recent level: the reader, still open, sees it.
    """
    path = tmp_path / "segments.db"
    store = SqliteSegmentStore(Database(path))
    store.apply(ENV, sync(change("c1", ["old"])))
    with store.db.write() as tx:  # "old" in member_hashes itself, as schema 3 kept it
        hashes.fold_step(tx, hashes.RecentLevel(0, 0, fold_rows=1_000))
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE member_hashes_recent")
        conn.execute("PRAGMA user_version = 3")
    sdk_store = SqliteBigSegmentStore(path)
    try:
        assert sdk_store.get_membership(b64encode(context_digest("old")).decode())
        store = SqliteSegmentStore(Database(path))  # upgrades to 4
        store.apply(ENV, sync(change("c1", ["new"], ["old"])))  # into the recent level
        store.close()
        assert level_rows(path)[1] == 2
        assert sdk_store.get_membership(b64encode(context_digest("new")).decode())
        assert not sdk_store.get_membership(b64encode(context_digest("old")).decode())
    finally:
        sdk_store.stop()


# --- a real SDK, and a crash


def test_the_python_sdk_sees_a_sync_only_once_it_is_merged(tmp_path):
    """The group writer commits a change; the SDK over the file keeps evaluating the
    state before it, HEALTHY, and "synchronized on" stays put, until the merge (here:
    the one closing the writer does); then the evaluations flip."""
    store = SqliteSegmentStore(Database(tmp_path / "segments.db"))
    writer = RecordingWriter(store)
    sdk = None
    try:
        writer.apply_now(ENV, sync(change("beta", ["a", "b"])))
        store.merge_hash_log()
        segment = store.get_segment(ENV, "amplitude-beta")
        definition = segment_definition(segment.key, "user", segment.generation)
        data = {
            "flags": {"beta": flag_on_segment("beta", segment.key)},
            "segments": {segment.key: definition},
        }
        files = write_json(tmp_path / "data.json", data)
        sdk_store = SqliteBigSegmentStore(store.db.path)
        sdk = python_sdk(
            sdk_store, update_processor_class=Files.new_data_source(paths=[str(files)])
        )
        evaluate = python_evaluate(sdk, "beta")
        before = {"a": True, "b": True, "c": False}
        wait_for_values(evaluate, before)
        merged_on = sdk_store.get_metadata().last_up_to_date

        writer.apply_now(ENV, sync(change("beta", ["c"], ["a"])))  # committed: a 204
        assert log_rows(store.db.path) == 2
        # longer than the SDK caches memberships (0.05 s) and polls the status (0.2 s)
        for _ in range(10):
            answers = {key: evaluate(key) for key in before}
            assert {key: answer["value"] for key, answer in answers.items()} == before
            for answer in answers.values():
                assert answer["reason"]["bigSegmentsStatus"] == "HEALTHY"
            time.sleep(0.05)
        assert sdk_store.get_metadata().last_up_to_date == merged_on

        writer.close()  # merges what is left
        answers = wait_for_values(evaluate, {"a": False, "b": True, "c": True})
        for answer in answers.values():
            assert answer["reason"]["bigSegmentsStatus"] == "HEALTHY"
        assert sdk_store.get_metadata().last_up_to_date > merged_on
        assert log_rows(store.db.path) == 0
    finally:
        if sdk is not None:
            sdk.close()
        writer.close()
        store.close()


COMMITS = 15  # of STEP_MEMBERS new members each: a backlog of 15 merge steps
STEP_MEMBERS = hashes.MERGE_ROWS


def test_kill_9_while_a_restarted_service_merges_the_log_then_restart(tmp_path):
    """A file whose log holds 15 commits not merged (a service killed before merging
    them); the next service merges them at start, step after step, and is killed -9 as
    soon as a step is seen committed. The file then holds whole commits merged and the
    rest still in the log; a third start merges the rest: every member's hash, once."""
    db = tmp_path / "segments.db"
    first = Service(db)
    client_id, _ = first.welcome()
    first.stop()
    environment = Environment(client_id, "default", "production")
    store = SqliteSegmentStore(Database(db))
    users = [f"user-{i:07d}" for i in range(COMMITS * STEP_MEMBERS)]
    try:
        for n in range(COMMITS):  # each as the group writer commits a batch
            chunk = users[n * STEP_MEMBERS : (n + 1) * STEP_MEMBERS]
            with store.db.write() as tx:
                batch = Batch()
                store.apply_in(tx, batch, environment, sync(change("big", chunk)))
                batch.flush(tx)
        segment_id = store.get_segment(environment, "amplitude-big").generation
    finally:
        store.close()
    assert log_rows(db) == len(users)
    before_merges = synchronized_on(db)

    second = Service(db)
    try:
        second.stderr.wait_for(r"hash log holds 300000 rows not merged yet")
        deadline = time.monotonic() + 60
        while not index(db) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        second.kill()
    # Opened read-write by a process of its own first, so that SQLite recovers the WAL
    # (connections of this process may go on with the dead one's wal-index).
    recover = "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('SELECT 1')"
    subprocess.run([sys.executable, "-c", recover, str(db)], check=True)
    merged, left = index(db), log_rows(db)
    assert merged and left, "the kill did not land while the log was being merged"
    # whole commits merged (the oldest first), the others still in the log
    whole = len(merged) // STEP_MEMBERS
    assert len(merged) == whole * STEP_MEMBERS and left == len(users) - len(merged)
    assert merged == {
        (segment_id, context_digest(user)) for user in users[: len(merged)]
    }
    assert before_merges < synchronized_on(db)  # as of the last commit merged
    print(f"kill -9 left {whole} of {COMMITS} commits merged")

    third = Service(db)
    try:
        found = third.stderr.wait_for(r"hash log holds (\d+) rows not merged yet")
        assert 0 < int(found[1]) <= left
        deadline = time.monotonic() + 60
        while log_rows(db) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log_rows(db) == 0
        assert index(db) == {(segment_id, context_digest(user)) for user in users}
    finally:
        third.stop()


def test_noting_a_commit_reads_the_last_row_of_the_log_not_all_of_it(tmp_path):
    """Every batch that logs hashes notes the log's last row: a descent of the rowid
    B-tree, never a scan of the rows not merged yet (a backlog slowed every commit)."""
    database = Database(tmp_path / "segments.db")
    with database.write() as tx:
        hashes.record_commit(tx, 1)  # an empty log: nothing to note
        assert tx.execute("SELECT * FROM member_hash_commits").fetchall() == []
        tx.execute(
            "INSERT INTO member_hash_log (context_hash, segment_id, added) "
            "SELECT randomblob(32), 1, 1 FROM json_each(?)",
            (json.dumps(list(range(20_000))),),
        )
        steps = []  # SQLite's virtual machine instructions, a hundred at a time
        tx.set_progress_handler(lambda: steps.append(1), 100)
        hashes.record_commit(tx, 2)
        tx.set_progress_handler(None, 100)
        hashes.record_commit(tx, 3)  # the same last row again: the later time
        rows = tx.execute("SELECT * FROM member_hash_commits").fetchall()
    assert rows == [(20_000, 3)]
    assert len(steps) < 10, f"{len(steps) * 100} instructions: a scan of the log"
    database.close()
