"""What is particular to the SQLite store: transactions under failure, locks, threads, files."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from service.sqlite.database import SCHEMA_VERSION, Database
from service.sqlite.store import SqliteSegmentStore
from service.store import StoreUnavailable

from .test_store_contract import ENV, change, members, sync


@pytest.fixture
def store(tmp_path):
    store = SqliteSegmentStore(Database(tmp_path / "segments.db", busy_timeout=0.2))
    yield store
    store.close()


def test_a_failure_midway_leaves_nothing_applied(store):
    store.apply(ENV, sync(change("kept", ["k1"])))
    # a trigger fails the insert of one member, after thousands of rows were written
    conn = sqlite3.connect(store.db.path)
    conn.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON members WHEN NEW.context_key = 'zz-boom' "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    )
    conn.commit()
    conn.close()
    request = sync(
        change("new", [f"u{i}" for i in range(5000)]),
        change("kept", ["k2", "zz-boom"], ["k1"]),
    )
    with pytest.raises(sqlite3.IntegrityError, match="injected failure"):
        store.apply(ENV, request)
    assert store.get_segment(ENV, "amplitude-new") is None
    assert members(store, "amplitude-kept") == ["k1"]
    assert store.get_segment(ENV, "amplitude-kept").member_count == 1
    with sqlite3.connect(store.db.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM members").fetchone() == (1,)


def test_a_lock_held_elsewhere_is_store_unavailable(store):
    store.apply(ENV, sync(change("c1", ["u1"])))
    locker = sqlite3.connect(store.db.path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable, match="SQLITE_BUSY"):
            store.apply(ENV, sync(change("c1", ["u2"])))
        # WAL: readers still read the last committed state while a writer waits
        assert members(store, "amplitude-c1") == ["u1"]
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    store.apply(ENV, sync(change("c1", ["u2"])))
    assert members(store, "amplitude-c1") == ["u1", "u2"]


def test_unopenable_file_is_store_unavailable(tmp_path):
    with pytest.raises(StoreUnavailable, match="SQLITE_CANTOPEN"):
        Database(tmp_path / "missing-dir" / "segments.db")


def test_one_file_in_wal_mode_with_a_schema_version(tmp_path):
    Database(tmp_path / "segments.db").close()
    with sqlite3.connect(tmp_path / "segments.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreUnavailable, match="use a newer service"):
        Database(tmp_path / "segments.db")


def test_threads_apply_concurrently_without_losing_a_change(store):
    """Each thread has its own connection; writers queue; every change lands once."""
    store.apply(ENV, sync(change("shared")))
    errors = []

    def worker(n: int) -> None:
        try:
            for i in range(20):
                store.apply(ENV, sync(change("shared", [f"t{n}-{i}"])))
        except Exception as error:  # reported below; a thread cannot fail the test
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.get_segment(ENV, "amplitude-shared").member_count == 160
    assert len(members(store, "amplitude-shared")) == 160
