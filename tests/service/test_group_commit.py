"""Group commit on a real SQLite file, and pipelines on a real Redis: what a batch does.

The writer is driven from an event loop as the service drives it: requests handed over
in one step of the loop are taken as one batch (writer.py waits for the loop's turn).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading

import pytest

from segment_sync_sdk.layout import context_digest, segment_definition
from service.redis import steps
from service.redis.client import APPLY_TIMEOUT, connect
from service.redis.steps import SegmentBusy
from service.redis.store import RedisSegmentStore
from service.redis.writer import PipelineWriter
from service.sqlite.database import Database
from service.sqlite.hashes import INDEX_PAIRS
from service.sqlite.store import SqliteSegmentStore
from service.sqlite.writer import GroupWriter
from service.store import (
    ContextKindConflict,
    CreationRefused,
    IntegrationConflict,
    StoreUnavailable,
)
from service.writer import MAX_BATCH_MEMBERS

from .helpers import wait_until
from .test_store_contract import ENV, change, members, sync


def hashes_agree_with_members(store) -> bool:
    """Once the hash log is merged, the SDKs' index (member_hashes and its recent level)
    holds the hash of every member row and nothing else."""
    store.merge_hash_log()
    with sqlite3.connect(store.db.path) as conn:
        rows = conn.execute("SELECT segment_id, context_key FROM members").fetchall()
        pairs = conn.execute(INDEX_PAIRS)
        return {(id_, hash_) for hash_, id_ in pairs} == {
            (id_, context_digest(key)) for id_, key in rows
        }


def logged(store) -> list[tuple[int, bytes, int]]:
    """The hash log, oldest first: (segment id, hash, 1 added or 0 removed)."""
    with sqlite3.connect(store.db.path) as conn:
        return conn.execute(
            "SELECT segment_id, context_hash, added FROM member_hash_log ORDER BY id"
        ).fetchall()


def log_of(store, key: str, added=(), removed=()) -> list[tuple[int, bytes, int]]:
    """The log rows one change of segment `key` appends: its hashes in hash order."""
    segment_id = store.get_segment(ENV, key).generation
    return [
        (segment_id, digest, flag)
        for keys, flag in ((added, 1), (removed, 0))
        for digest in sorted(map(context_digest, keys))
    ]


def synchronized_on(store) -> int:
    with sqlite3.connect(store.db.path) as conn:
        return conn.execute("SELECT synchronized_on FROM store_metadata").fetchone()[0]


class RecordingGroupWriter(GroupWriter):
    """GroupWriter noting the requests of each batch (by their first cohort id). It
    merges the hash log only when told (store.merge_hash_log), so that tests see it."""

    def __init__(self, store) -> None:
        self.batches: list[list[str]] = []
        super().__init__(store, merge_idle=None, merge_every=None)

    def _apply_batch(self, batch) -> None:
        self.batches.append([job.sync.changes[0].cohort_id for job in batch])
        super()._apply_batch(batch)


class RecordingPipelineWriter(PipelineWriter):
    def __init__(self, store) -> None:
        self.batches: list[list[str]] = []
        super().__init__(store)

    def _apply_batch(self, batch) -> None:
        self.batches.append([job.sync.changes[0].cohort_id for job in batch])
        super()._apply_batch(batch)


def sqlite_writer(tmp_path, writer_class=RecordingGroupWriter):
    store = SqliteSegmentStore(Database(tmp_path / "segments.db"))
    return store, writer_class(store)


async def all_at_once(writer, *requests) -> list:
    """Hand every (sync, may_create) over in one step of the loop; outcomes in order."""
    tasks = [
        asyncio.ensure_future(writer.apply(ENV, request, may_create=may_create))
        for request, may_create in requests
    ]
    return await asyncio.gather(*tasks, return_exceptions=True)


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture
def sqlite_pair(tmp_path):
    store, writer = sqlite_writer(tmp_path)
    # segments for the refusals: one of kind account, one of another integration
    store.apply(ENV, sync(change("accounts", ["a1"]), kind="account"))
    store.apply(ENV, sync(change("c", ["h1"]), integration="a-b"))
    yield store, writer
    writer.close()
    store.close()


def test_refused_requests_leave_no_trace_and_their_batch_mates_land(sqlite_pair):
    store, writer = sqlite_pair
    outcomes = run(
        all_at_once(
            writer,
            (sync(change("first", ["u1", "u2"])), True),
            (sync(change("accounts", ["u3"]), kind="user"), True),  # 409 kind
            (sync(change("second", ["u4"]), change("third", ["u5"])), False),  # 403
            (sync(change("b-c", ["u6"]), integration="a"), True),  # 409 integration
            (sync(change("first", ["u7"], ["u1"])), True),
        )
    )
    assert writer.batches[-1] == ["first", "accounts", "second", "b-c", "first"]
    assert [type(outcome).__name__ for outcome in outcomes] == [
        "list", "ContextKindConflict", "CreationRefused", "IntegrationConflict", "list",
    ]  # fmt: skip
    assert isinstance(outcomes[1], ContextKindConflict)
    assert isinstance(outcomes[2], CreationRefused)
    assert isinstance(outcomes[3], IntegrationConflict)
    # the batch-mates landed, in order; the refused ones left nothing
    assert members(store, "amplitude-first") == ["u2", "u7"]
    assert store.get_segment(ENV, "amplitude-first").member_count == 2
    assert members(store, "amplitude-accounts") == ["a1"]
    assert store.get_segment(ENV, "amplitude-second") is None
    assert store.get_segment(ENV, "amplitude-third") is None
    assert members(store, "a-b-c") == ["h1"]
    # the SDKs' log holds the landed requests' hashes, in order, and nothing else
    assert logged(store) == log_of(store, "amplitude-first", ["u1", "u2"]) + log_of(
        store, "amplitude-first", ["u7"], ["u1"]
    )
    assert hashes_agree_with_members(store)


def test_a_statement_failing_inside_a_batch_fails_only_its_request(sqlite_pair):
    store, writer = sqlite_pair
    with sqlite3.connect(store.db.path) as conn:
        conn.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON members WHEN NEW.context_key = 'boom' "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
    outcomes = run(
        all_at_once(
            writer,
            (sync(change("kept-1", ["k1"])), True),
            (
                sync(
                    change("written", [f"w{i}" for i in range(500)]),  # with hashes
                    change("broken", [f"b{i}" for i in range(500)] + ["boom"]),
                ),
                True,
            ),
            (sync(change("kept-2", ["k2"])), True),
        )
    )
    assert len(writer.batches[-1]) == 3
    assert isinstance(outcomes[1], sqlite3.IntegrityError)
    assert members(store, "amplitude-kept-1") == ["k1"]
    assert members(store, "amplitude-kept-2") == ["k2"]
    assert store.get_segment(ENV, "amplitude-broken") is None  # rolled back whole
    assert store.get_segment(ENV, "amplitude-written") is None
    # the hashes of "written", logged before "broken" failed, rolled back too
    assert logged(store) == log_of(store, "amplitude-kept-1", ["k1"]) + log_of(
        store, "amplitude-kept-2", ["k2"]
    )
    assert hashes_agree_with_members(store)


class ForeignKeysWriter(RecordingGroupWriter):
    """A writer whose connection checks foreign keys, so a deferred one fails COMMIT."""

    def _started(self) -> None:
        super()._started()
        self.db.connection().execute("PRAGMA foreign_keys = ON")


def test_a_failed_commit_is_a_503_for_every_request_and_applies_none(tmp_path):
    store, writer = sqlite_writer(tmp_path, ForeignKeysWriter)
    try:
        store.apply(ENV, sync(change("before", ["u0"])))
        committed_on = synchronized_on(store)
        with sqlite3.connect(store.db.path) as conn:
            # a member "fails-at-commit" adds a row whose deferred foreign key dangles:
            # SQLite refuses the COMMIT itself, after every statement succeeded
            conn.executescript("""
                CREATE TABLE probe (segment INTEGER REFERENCES segments (id)
                                    DEFERRABLE INITIALLY DEFERRED);
                CREATE TRIGGER dangling AFTER INSERT ON members
                WHEN NEW.context_key = 'fails-at-commit'
                BEGIN INSERT INTO probe VALUES (-1); END;
                """)
        outcomes = run(
            all_at_once(
                writer,
                (sync(change("before", ["u1"])), True),
                (sync(change("other", ["fails-at-commit"])), True),
                (sync(change("third", ["u3"])), True),
            )
        )
        assert len(writer.batches[-1]) == 3
        assert all(isinstance(outcome, StoreUnavailable) for outcome in outcomes)
        assert members(store, "amplitude-before") == ["u0"]
        assert store.get_segment(ENV, "amplitude-other") is None
        assert store.get_segment(ENV, "amplitude-third") is None
        assert logged(store) == []  # the SDKs will never see a hash of them either
        assert hashes_agree_with_members(store)
        assert synchronized_on(store) == committed_on  # the SDKs see no new commit
        # and the writer goes on: the next batch commits
        run(all_at_once(writer, (sync(change("before", ["u4"])), True)))
        assert members(store, "amplitude-before") == ["u0", "u4"]
    finally:
        writer.close()
        store.close()


def test_a_big_request_is_alone_and_small_ones_behind_it_go_first(tmp_path):
    store, writer = sqlite_writer(tmp_path)
    try:
        big = [f"big-{i:06d}" for i in range(MAX_BATCH_MEMBERS + 1)]
        outcomes = run(
            all_at_once(
                writer,
                (sync(change("small-1", ["s1"])), True),
                (sync(change("big", big)), True),
                (sync(change("small-2", ["s2"])), True),
                (sync(change("small-3", ["s3"])), True),
            )
        )
        assert all(isinstance(outcome, list) for outcome in outcomes)
        # the head of the queue first, then what fits; the big one alone after them
        assert writer.batches == [["small-1", "small-2", "small-3"], ["big"]]
        assert store.get_segment(ENV, "amplitude-big").member_count == len(big)
    finally:
        writer.close()
        store.close()


class TracingGroupWriter(RecordingGroupWriter):
    """A writer noting every statement its connection runs."""

    def _started(self) -> None:
        super()._started()
        self.statements: list[str] = []
        self.db.connection().set_trace_callback(self.statements.append)


def test_one_commit_for_many_requests(tmp_path):
    store, writer = sqlite_writer(tmp_path, TracingGroupWriter)
    try:
        requests = [(sync(change("many", [f"u{i}"])), True) for i in range(50)]
        run(all_at_once(writer, *requests))
        assert writer.batches == [["many"] * 50]
        assert store.get_segment(ENV, "amplitude-many").member_count == 50
        # the SDKs' hash log: one row per member, and the commit noted once; "synchronized
        # on" is the merge's to move, never the batch's
        commits = [s for s in writer.statements if s == "COMMIT"]
        noted = [s for s in writer.statements if "member_hash_commits" in s]
        marks = [s for s in writer.statements if "store_metadata" in s]
        assert (len(commits), len(noted), len(marks)) == (1, 1, 0)
        assert len(logged(store)) == 50
        assert hashes_agree_with_members(store)
    finally:
        writer.close()
        store.close()


def test_redis_pipelines_keep_each_request_atomic(redis_server, redis_db):
    url = redis_server.url_of(redis_db)
    store = RedisSegmentStore(connect(url), "pipeline", connect(url, APPLY_TIMEOUT))
    writer = RecordingPipelineWriter(store)
    try:
        store.apply(ENV, sync(change("accounts", ["a1"]), kind="account"))
        outcomes = run(
            all_at_once(
                writer,
                (sync(change("first", ["u1"])), True),
                (sync(change("accounts", ["u2"]), kind="user"), True),  # 409
                (sync(change("new", ["u3"])), False),  # 403
                (sync(change("first", ["u4"], ["u1"])), True),
            )
        )
        assert writer.batches[-1] == ["first", "accounts", "new", "first"]
        assert isinstance(outcomes[1], ContextKindConflict)
        assert isinstance(outcomes[2], CreationRefused)
        assert members(store, "amplitude-first") == ["u4"]
        assert members(store, "amplitude-accounts") == ["a1"]
        assert store.get_segment(ENV, "amplitude-new") is None
        # the script is loaded again when Redis lost it (a restart, SCRIPT FLUSH)
        store.client.script_flush()
        run(
            all_at_once(
                writer, *[(sync(change("after", [f"v{i}"])), True) for i in range(3)]
            )
        )
        assert members(store, "amplitude-after") == ["v0", "v1", "v2"]
    finally:
        writer.close()
        store.close()


@pytest.fixture
def redis_pair(redis_server, redis_db):
    """A Redis store applying requests of more than 10 members in steps, its writer."""
    url = redis_server.url_of(redis_db)
    store = RedisSegmentStore(
        connect(url), "pipeline", connect(url, APPLY_TIMEOUT), step_members=10
    )
    writer = RecordingPipelineWriter(store)
    yield store, writer
    writer.close()
    store.close()


def test_a_large_redis_request_runs_its_steps_beside_the_pipeline(redis_pair):
    """The writer's thread hands a large request over and keeps pipelining small ones."""
    store, writer = redis_pair
    big = [f"big-{i:03d}" for i in range(200)]
    midway: list[bool] = []

    def small_request_during_a_step(step) -> None:
        if step.done != 50:
            return
        done = threading.Event()
        threading.Thread(
            target=lambda: (
                writer.apply_now(ENV, sync(change("small", ["s"]))),
                done.set(),
            )
        ).start()
        # answered while the large request is between two steps, not after it
        midway.append(done.wait(timeout=20))

    store.observe_step = small_request_during_a_step
    results = writer.apply_now(ENV, sync(change("big", big)))
    assert [(r.created, r.added) for r in results] == [(True, 200)]
    assert midway == [True]
    assert members(store, "amplitude-small") == ["s"]
    assert store.get_segment(ENV, "amplitude-big").member_count == 200
    assert writer.batches == [["big"], ["small"]]


def test_a_small_redis_request_on_a_leased_segment_waits_then_lands(
    redis_pair, redis_server, redis_db
):
    store, writer = redis_pair
    writer.apply_now(ENV, sync(change("leased", ["first"])))
    client = redis_server.client(redis_db)
    lease = store.lease_key(ENV, "amplitude-leased")
    client.set(lease, "a large request in progress", px=60_000)
    outcome: list[object] = []
    waiting = threading.Thread(
        target=lambda: outcome.append(
            writer.apply_now(ENV, sync(change("leased", ["second"])))
        )
    )
    waiting.start()
    wait_until(lambda: len(writer.batches) >= 4)  # tried again and again meanwhile
    assert outcome == [] and members(store, "amplitude-leased") == ["first"]
    client.delete(lease)  # the large request is done
    waiting.join(timeout=20)
    assert [type(result) for result in outcome] == [list]
    assert members(store, "amplitude-leased") == ["first", "second"]


def test_a_redis_request_waits_for_a_lease_only_so_long(
    redis_pair, redis_server, redis_db, monkeypatch
):
    monkeypatch.setattr(steps, "LEASE_WAIT", 0.2)
    store, writer = redis_pair
    client = redis_server.client(redis_db)
    client.set(store.lease_key(ENV, "amplitude-stuck"), "another", px=60_000)
    with pytest.raises(SegmentBusy, match="nothing of this request was applied"):
        writer.apply_now(ENV, sync(change("stuck", ["u1"])))
    assert len(writer.batches) > 1  # it was tried again before the 503
    assert store.get_segment(ENV, "amplitude-stuck") is None


def test_pipelined_and_stepped_requests_write_their_sdk_definitions(
    redis_pair, redis_server, redis_db
):
    """--sdk-definitions: each request's own script writes its segments' definitions."""
    store, writer = redis_pair
    store.write_definitions(ENV)
    run(
        all_at_once(
            writer,
            (sync(change("one", ["u1"])), True),
            (sync(change("two", ["u2"]), change("three")), True),
            (sync(change("large", [f"m{i}" for i in range(50)])), True),  # in steps
        )
    )
    assert writer.batches == [["one", "two", "large"]]
    client = redis_server.client(redis_db)
    written = {
        key.decode(): json.loads(value)
        for key, value in client.hgetall("pipeline:segments").items()
    }
    keys = ("one", "two", "three", "large")
    assert written == {
        f"amplitude-{key}": segment_definition(
            f"amplitude-{key}",
            "user",
            store.get_segment(ENV, f"amplitude-{key}").generation,
        )
        for key in keys
    }


def test_under_a_steady_load_the_wal_starts_over_instead_of_growing(
    tmp_path, monkeypatch
):
    """The checkpointer's passes never catch up while batches keep coming; the writer
    finishes the copy between two batches, so SQLite writes the WAL from its start again
    and the file stops growing. Without it the WAL grew for as long as the load lasted.
    """
    monkeypatch.setattr("service.sqlite.writer.RESTART_SECONDS", 0.05)
    # a checkpointer's pass every 2 ms: the writer's copy meets one often, and a PASSIVE
    # checkpoint beside another copies nothing (SQLite answers it busy)
    monkeypatch.setattr("service.sqlite.writer.CHECKPOINT_SECONDS", 0.002)
    store = SqliteSegmentStore(Database(tmp_path / "segments.db"))
    writer = GroupWriter(store, merge_every=None, merge_idle=None, merge_backlog=None)
    wal = tmp_path / "segments.db-wal"
    stop = threading.Event()

    def keep_syncing(client: int) -> None:
        count = 0
        while not stop.is_set():
            count += 1
            writer.apply_now(ENV, sync(change("steady", [f"c{client}-{count}"])))

    clients = [threading.Thread(target=keep_syncing, args=(n,)) for n in range(4)]
    for client in clients:
        client.start()
    try:
        stop.wait(0.5)
        early = wal.stat().st_size
        stop.wait(1.0)
        late = wal.stat().st_size
    finally:
        stop.set()
        for client in clients:
            client.join()
        written = len(members(store, "amplitude-steady"))
        writer.close()
        store.close()
    assert written > 500  # the load really was steady
    assert late < 2 * early, f"the WAL grew from {early} to {late} bytes"
