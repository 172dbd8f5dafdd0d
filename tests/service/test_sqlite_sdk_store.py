"""segment_sync_sdk's Big Segment store over the SQLite file, and the schema it reads.

The store is ldclient's own interface (`get_metadata`, `get_membership(context_hash)`),
called here as the Python SDK calls it; the SDK evaluating flags through it is in
test_sdk_end_to_end.py.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from segment_sync_sdk.layout import context_hash
from segment_sync_sdk.sqlite import (
    _MEMBERSHIP,
    SCHEMA_VERSIONS,
    SqliteBigSegmentStore,
    StoreFileError,
)
from service.sqlite.database import SCHEMA, SCHEMA_VERSION, Database
from service.sqlite.registry import SqliteRegistry
from service.sqlite.store import SqliteSegmentStore
from service.sqlite.writer import GroupWriter

from .helpers import ROOT
from .test_store_contract import ENV, OTHER_ENV, change, sync


@pytest.fixture
def files(tmp_path):
    """(the service's store, the SDK's store) over one file."""
    path = tmp_path / "segments.db"
    store = SqliteSegmentStore(Database(path))
    sdk_store = SqliteBigSegmentStore(path)
    yield store, sdk_store
    sdk_store.stop()
    store.close()


def membership(sdk_store, key: str):
    return sdk_store.get_membership(context_hash(key))


def test_membership_by_context_hash_across_segments_and_environments(files):
    store, sdk_store = files
    store.apply(ENV, sync(change("c1", ["u1", "u2"]), change("c2", ["u2"])))
    store.apply(OTHER_ENV, sync(change("c1", ["u2"])))
    g = [
        store.get_segment(env, key).generation
        for env, key in (
            (ENV, "amplitude-c1"),
            (ENV, "amplitude-c2"),
            (OTHER_ENV, "amplitude-c1"),
        )
    ]
    assert membership(sdk_store, "u1") == {f"amplitude-c1.g{g[0]}": True}
    assert membership(sdk_store, "u2") == {
        f"amplitude-c1.g{g[0]}": True,
        f"amplitude-c2.g{g[1]}": True,
        f"amplitude-c1.g{g[2]}": True,  # the other environment's: another generation
    }
    assert membership(sdk_store, "nobody") is None
    store.apply(ENV, sync(change("c1", ["u3"], ["u1", "u2"])))
    assert membership(sdk_store, "u1") is None
    assert membership(sdk_store, "u3") == {f"amplitude-c1.g{g[0]}": True}
    assert f"amplitude-c1.g{g[0]}" not in membership(sdk_store, "u2")


def test_synchronized_on_is_the_last_commit(files):
    store, sdk_store = files
    assert sdk_store.get_metadata().last_up_to_date is None  # nothing committed yet
    before = time.time_ns() // 1_000_000
    store.apply(ENV, sync(change("c1", ["u1"])))
    first = sdk_store.get_metadata().last_up_to_date
    assert before <= first <= time.time_ns() // 1_000_000
    time.sleep(0.002)
    store.mark_synchronized()  # what the running service's heartbeat does
    assert sdk_store.get_metadata().last_up_to_date > first


def test_the_file_is_opened_read_only(files):
    store, sdk_store = files
    store.apply(ENV, sync(change("c1", ["u1"])))
    assert membership(sdk_store, "u1")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        sdk_store._conn.execute("DELETE FROM member_hashes")
    assert membership(sdk_store, "u1")


def test_it_reads_while_the_service_writes(files):
    """WAL: lookups never wait for or fail on a writer, and see each commit whole."""
    store, sdk_store = files
    errors: list[Exception] = []
    done = threading.Event()

    def write() -> None:
        try:
            for batch in range(40):
                keys = [f"b{batch}-{n}" for n in range(500)]
                store.apply(ENV, sync(change("hot", keys)))
        except Exception as error:  # reported below; a thread cannot fail the test
            errors.append(error)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    seen_batches = 0
    while not done.is_set():
        # the last member of the newest batch seen in implies the whole batch is in
        newest = seen_batches
        while membership(sdk_store, f"b{newest}-499"):
            newest += 1
        for batch in range(seen_batches, newest):
            assert membership(sdk_store, f"b{batch}-0"), batch
        seen_batches = newest
    writer.join()
    assert errors == []
    assert all(membership(sdk_store, f"b{batch}-250") for batch in range(40))


def test_a_lookup_is_indexed_searches_only():
    """The query plan: searches of both levels' primary keys, never a scan."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)  # the service's own schema
    query = _MEMBERSHIP[SCHEMA_VERSION]
    plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + query, (b"",))]
    for table in ("member_hashes", "member_hashes_recent"):
        assert f"SEARCH {table} USING PRIMARY KEY (context_hash=?)" in plan, plan
    assert not any(step.startswith("SCAN") for step in plan), plan


V1_SCHEMA = """
CREATE TABLE environments (client_side_id TEXT PRIMARY KEY, project_key TEXT NOT NULL,
    environment_key TEXT NOT NULL, created_at INTEGER NOT NULL,
    UNIQUE (project_key, environment_key));
CREATE TABLE tokens (id TEXT PRIMARY KEY, hash TEXT NOT NULL, role TEXT NOT NULL,
    actions TEXT NOT NULL, name TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,
    revoked_at INTEGER);
CREATE TABLE segments (id INTEGER PRIMARY KEY, environment_id TEXT NOT NULL,
    key TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]', context_kind TEXT NOT NULL,
    integration_key TEXT NOT NULL, cohort_id TEXT NOT NULL, cohort_url TEXT,
    member_count INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL, UNIQUE (environment_id, key));
CREATE TABLE members (segment_id INTEGER NOT NULL, context_key TEXT NOT NULL,
    PRIMARY KEY (segment_id, context_key)) WITHOUT ROWID;
PRAGMA user_version = 1;
"""  # the schema of version 1, as files written before schema 2 hold it

# What version 2 added to it: the registry's generation, kept by triggers (cache.py),
# here already moved on by earlier changes of tokens and environments.
V2_SCHEMA = (
    V1_SCHEMA.replace("PRAGMA user_version = 1;", "")
    + "".join(
        f"CREATE TRIGGER {table}_{done} AFTER {event} ON {table} "
        "BEGIN UPDATE registry_generation SET value = value + 1; END;\n"
        for table in ("tokens", "environments")
        for event, done in (
            ("INSERT", "inserted"),
            ("UPDATE", "updated"),
            ("DELETE", "deleted"),
        )
    )
    + """
CREATE TABLE registry_generation (id INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL);
INSERT INTO registry_generation (id, value) VALUES (1, 41);
PRAGMA user_version = 2;
"""
)


def an_old_file(path, version: int, members: int) -> None:
    conn = sqlite3.connect(path)
    conn.executescript({1: V1_SCHEMA, 2: V2_SCHEMA}[version])
    conn.execute(
        "INSERT INTO segments (id, environment_id, key, name, context_kind, "
        "integration_key, cohort_id, member_count, created_at, updated_at) VALUES "
        "(7, 'client-1', 'amplitude-old', 'Old', 'user', 'amplitude', 'old', ?, 1, 1)",
        (members,),
    )
    conn.executemany(
        "INSERT INTO members VALUES (7, ?)", ((f"user-{n}",) for n in range(members))
    )
    conn.commit()
    conn.close()


@pytest.mark.parametrize("version", [1, 2])
def test_a_file_of_an_earlier_version_upgrades_on_open(tmp_path, version):
    path = tmp_path / "old.db"
    an_old_file(path, version, 20_000)
    sdk_store = SqliteBigSegmentStore(path)
    with pytest.raises(
        StoreFileError, match=f"schema version {version}, older.*start the service once"
    ):
        sdk_store.get_metadata()
    Database(path).close()  # what any service command does on open
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert conn.execute("SELECT COUNT(*) FROM member_hashes").fetchone() == (
            20_000,
        )
        # the registry's generation kept (2), or started (1): caches see what follows
        generation = {1: 0, 2: 41}[version]
        assert conn.execute("SELECT value FROM registry_generation").fetchone() == (
            generation,
        )
    assert membership(sdk_store, "user-12345") == {"amplitude-old.g7": True}
    assert membership(sdk_store, "user-20000") is None
    store = SqliteSegmentStore(Database(path))  # again: nothing to upgrade
    assert store.get_segment(ENV, "amplitude-old").member_count == 20_000
    store.apply(ENV, sync(change("old", ["new"], ["user-1"])))
    assert membership(sdk_store, "new") == {"amplitude-old.g7": True}
    assert membership(sdk_store, "user-1") is None
    # and through the service's writer: into the hash log, merged by its close
    writer = GroupWriter(store, merge_every=None, merge_idle=None, merge_backlog=None)
    writer.apply_now(ENV, sync(change("old", ["logged"], ["user-2"])))
    assert membership(sdk_store, "logged") is None  # committed, not merged yet
    writer.close()
    assert membership(sdk_store, "logged") == {"amplitude-old.g7": True}
    assert membership(sdk_store, "user-2") is None
    registry = SqliteRegistry(store.db)
    registry.add_environment("client-2", "default", "staging")
    registry.create_token("reader")
    assert registry.generation() == generation + 2  # the triggers work on it
    store.close()
    sdk_store.stop()


def test_a_file_of_schema_3_from_before_the_hash_log_gets_it_on_open(tmp_path):
    """Schema 3 changed in place before its release: a file written by the first cut
    (member_hashes written by each request, no log) gets the log's tables on open."""
    path = tmp_path / "first-cut.db"
    first_cut = re.sub(
        r"CREATE TABLE IF NOT EXISTS member_hash_(log|commits) \(.*?\);",
        "",
        SCHEMA,
        flags=re.S,
    )
    conn = sqlite3.connect(path)
    conn.executescript(first_cut + f"PRAGMA user_version = {SCHEMA_VERSION};")
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "member_hashes" in tables and "member_hash_log" not in tables
    store = SqliteSegmentStore(Database(path))
    writer = GroupWriter(store, merge_every=None, merge_idle=None, merge_backlog=None)
    writer.apply_now(ENV, sync(change("c1", ["u1"])))
    writer.close()  # merges
    sdk_store = SqliteBigSegmentStore(path)
    assert membership(sdk_store, "u1")
    store.close()
    sdk_store.stop()


def test_what_it_cannot_read_it_says(tmp_path):
    path = tmp_path / "later.db"
    sdk_store = SqliteBigSegmentStore(path)
    with pytest.raises(StoreFileError, match="does not exist"):
        sdk_store.get_membership(context_hash("u1"))
    store = SqliteSegmentStore(Database(path))  # the service starts after the app
    store.apply(ENV, sync(change("c1", ["u1"])))
    assert membership(sdk_store, "u1")
    store.close()
    sdk_store.stop()
    assert SCHEMA_VERSION in SCHEMA_VERSIONS  # this store reads what the service writes
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreFileError, match="newer than this store reads"):
        SqliteBigSegmentStore(path).get_metadata()


def test_an_application_imports_it_without_the_service():
    """No FastAPI, uvicorn, Redis client or compiler: the SDK and the standard library."""
    code = (
        "import sys, segment_sync_sdk.sqlite; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'uvicorn', "
        "'starlette', 'pydantic', 'redis', 'service', 'compiler', 'generated', 'jinja2'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
