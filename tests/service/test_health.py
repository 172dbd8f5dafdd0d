"""Liveness, readiness and the old /healthz on real servers, with stores that stop taking writes.

A store that answers reads but takes no write (a locked or read-only SQLite file, a
Redis out of memory) is the case the split is for: /livez says 200 there, /readyz 503,
and /healthz 503 too (every write would fail: a check that says "healthy" then hides an
outage). Redis down is 503 on /readyz and /healthz and still 200 on /livez.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from service.http.health import WriteCheck
from service.store import StoreUnavailable

from .helpers import Service, amplitude
from .redis_server import RedisServer, unavailable_reason

INGEST = "/api/v2/segment-targets/amplitude"


def statuses(server: Service) -> dict[str, int]:
    with server.client() as client:  # no token: none of them needs one
        return {path: client.get(path).status_code for path in HEALTH}


HEALTH = ("/livez", "/readyz", "/healthz")


def wait_for(server: Service, expected: dict[str, int], timeout: float = 15) -> None:
    """Until the health routes answer expected (readiness is re-checked each second)."""
    deadline = time.monotonic() + timeout
    while (seen := statuses(server)) != expected:
        assert time.monotonic() < deadline, f"health stayed {seen}, not {expected}"
        time.sleep(0.1)


READY = {"/livez": 200, "/readyz": 200, "/healthz": 200}
NO_WRITES = {"/livez": 200, "/readyz": 503, "/healthz": 503}
STORE_DOWN = {"/livez": 200, "/readyz": 503, "/healthz": 503}


def test_health_routes_need_no_token_and_say_what_they_check(service):
    with service.client() as client:
        answers = {path: client.get(path) for path in HEALTH}
    assert {path: r.json() for path, r in answers.items()} == {
        "/livez": {"status": "live"},
        "/readyz": {"status": "ready"},
        "/healthz": {"status": "ok"},
    }


def test_locked_sqlite_file_is_not_ready_and_recovers(tmp_path):
    server = Service(tmp_path / "locked.db", "--busy-timeout", "0.2")
    try:
        client_id, token = server.welcome()
        wait_for(server, READY)
        locker = sqlite3.connect(server.db, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            wait_for(server, NO_WRITES)
            with server.client() as client:
                refused = client.get("/readyz")
            assert refused.json()["code"] == "store_unavailable"
            assert refused.headers["Retry-After"] == "1"
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        wait_for(server, READY)
        with server.client(token) as client:
            body = amplitude(client_id, "after", ["u1"])
            assert client.post(INGEST, json=body).status_code == 204
        server.stderr.wait_for(
            r"not ready: segment store unavailable: database is locked"
        )
        server.stderr.wait_for(r"ready: the segment store takes writes again")
    finally:
        server.stop()


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """The files refuse every write (chattr +i): a volume gone read-only, as root sees it."""
    done: list[Path] = []
    try:
        for path in paths:
            result = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
            if result.returncode != 0:
                pytest.skip(
                    "chattr +i is not possible here (root on ext4, xfs or btrfs can; "
                    f"{result.stderr.decode().strip()})"
                )
            done.append(path)
        yield
    finally:
        for path in done:
            subprocess.run(["chattr", "-i", str(path)], check=True)


def test_read_only_sqlite_file_is_not_ready_but_still_answers_reads(tmp_path):
    server = Service(tmp_path / "frozen.db")
    try:
        client_id, token = server.welcome()
        wait_for(server, READY)
        db = server.db
        # the WAL too: SQLite commits there; not -shm, which it maps into memory
        with immutable(db, db.with_name(db.name + "-wal")):
            wait_for(server, NO_WRITES)
            with server.client(token) as client:
                body = amplitude(client_id, "frozen", ["u1"])
                refused = client.post(INGEST, json=body)
                assert refused.status_code == 503, refused.text
                assert client.get(
                    "/api/v2/projects/default/environments/production/segments"
                ).json() == {"items": [], "nextCursor": None}
        wait_for(server, READY)
        with server.client(token) as client:
            assert client.post(INGEST, json=body).status_code == 204
        assert "Traceback" not in server.stderr.text()
    finally:
        server.stop()


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    """A redis-server of this test's own: it is filled up and killed."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    server = RedisServer(tmp_path / "redis-data")
    try:
        yield server
    finally:
        server.stop()


def test_redis_that_refuses_writes_or_is_down_is_not_ready(tmp_path, own_redis):
    server = Service(tmp_path / "unused.db", "--store", own_redis.url)
    admin = redis.Redis(port=own_redis.port)
    try:
        server.welcome()
        wait_for(server, READY)
        # out of memory: PING and reads still answer, writes are refused
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", "1")
        try:
            wait_for(server, NO_WRITES)
        finally:
            admin.config_set("maxmemory", "0")
        wait_for(server, READY)
        own_redis.kill()
        wait_for(server, STORE_DOWN)
        own_redis.start()
        wait_for(server, READY)
    finally:
        admin.close()
        server.stop()


class Probe:
    """A write probe that fails when told to, and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False

    def __call__(self) -> None:
        self.calls += 1
        if self.failing:
            raise StoreUnavailable("no writes")


def test_write_check_probes_at_most_once_per_interval():
    probe = Probe()
    check = WriteCheck(probe, every=3600)
    check.check()
    probe.failing = True
    check.check()  # the last answer holds for the interval: no new probe
    assert probe.calls == 1


def test_write_check_keeps_a_failure_for_the_interval_too():
    probe = Probe()
    probe.failing = True
    check = WriteCheck(probe, every=3600)
    for _ in range(2):
        with pytest.raises(StoreUnavailable, match="no writes"):
            check.check()
    assert probe.calls == 1
    every_time = WriteCheck(probe, every=0)
    with pytest.raises(StoreUnavailable):
        every_time.check()
    probe.failing = False
    every_time.check()  # recovered at the next probe
    assert probe.calls == 3
