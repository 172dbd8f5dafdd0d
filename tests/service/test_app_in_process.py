"""The app on uvicorn in this process, for what the real server cannot be made to do (a bug
is a 500 with a body, never a traceback), and the pieces with a clock or parser of their own.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from service.access import parse_actions, token_from_header
from service.http.app import create_app
from service.ratelimit import MemoryRateLimiter, RateLimit
from service.settings import Settings
from service.sqlite.database import Database
from service.sqlite.registry import SqliteRegistry
from service.sqlite.store import SqliteSegmentStore
from service.sqlite.writer import GroupWriter

from .helpers import amplitude, heap


class BuggyStore(SqliteSegmentStore):
    """A store whose apply has a bug (apply_in: what the group writer calls)."""

    def apply_in(self, tx, batch, environment, sync, *, may_create=True):
        raise RuntimeError("a bug in apply")

    def get_segment(self, environment, key):
        raise KeyError("a bug in get_segment")


@pytest.fixture
def buggy(tmp_path):
    database = Database(tmp_path / "segments.db")
    registry = SqliteRegistry(database)
    first = registry.bootstrap()
    app = create_app(
        Settings(public_url="https://flags.example.com"),
        registry,
        BuggyStore(database),
    )
    with serving(app) as url, httpx.Client(base_url=url) as client:
        client.headers["Authorization"] = first.token
        yield client, first.environment.client_side_id
    app.close()
    database.close()


@contextmanager
def serving(app) -> Iterator[str]:
    """Run app on uvicorn in a thread of this process, on a free port; its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


def test_a_bug_while_applying_is_a_500_with_a_body(buggy, caplog):
    client, client_id = buggy
    response = client.post(
        "/api/v2/segment-targets/amplitude", json=amplitude(client_id, "c", ["u"])
    )
    assert response.status_code == 500
    assert response.json() == {"code": "internal_error", "message": "internal error"}
    assert "RuntimeError: a bug in apply" in caplog.text  # the log has the traceback


def test_a_bug_answers_heap_with_its_template(buggy):
    client, client_id = buggy
    response = client.post(
        "/api/v2/segment-targets/heap-inbound", json=heap(client_id, 9, ["u"])
    )
    assert response.status_code == 500
    assert response.json() == {
        "projectId": "default",
        "environmentId": "production",
        "segmentId": "heap-inbound-9",
        "segmentUrl": "https://flags.example.com/default/production/segments/"
        "heap-inbound-9/targeting",
        "status": "failure",
        "error": {"message": "internal error", "code": 500},
    }


def test_a_bug_in_the_read_api_is_a_500_with_a_body(buggy):
    client, _ = buggy
    response = client.get(
        "/api/v2/projects/default/environments/production/segments/amplitude-c"
    )
    assert response.status_code == 500
    assert response.json() == {"code": "internal_error", "message": "internal error"}


def test_rate_limiter_windows():
    now = [1000.0]
    limiter = MemoryRateLimiter(RateLimit(2, 10), clock=lambda: now[0])
    assert limiter.check("a") is None
    now[0] += 4
    assert limiter.check("a") is None
    refusal = limiter.check("a")
    assert (refusal.reset_at, refusal.retry_after) == (1010.0, 6)
    assert limiter.check("b") is None  # per key
    now[0] = 1010.0  # the window is over: a new one starts
    assert limiter.check("a") is None
    assert MemoryRateLimiter(None).check("a") is None


@pytest.mark.parametrize(
    ("text", "limit"),
    [("100/10", RateLimit(100, 10)), ("5/0.5", RateLimit(5, 0.5)), ("off", None)],
)
def test_rate_limit_option(text, limit):
    assert RateLimit.parse(text) == limit


@pytest.mark.parametrize("text", ["0/10", "10/0", "10", "ten/10", "10/-1"])
def test_rate_limit_option_refusals(text):
    with pytest.raises(ValueError, match="is not N/SECONDS"):
        RateLimit.parse(text)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("api-x", "api-x"),
        (" api-x ", "api-x"),
        ("Bearer api-x", "api-x"),
        ("bearer   api-x", "api-x"),
        ("Bearer", None),
    ],
)
def test_token_from_header(header, token):
    assert token_from_header(header) == token


def test_custom_role_actions():
    assert parse_actions("createSegment, updateIncluded") == {
        "createSegment",
        "updateIncluded",
    }
    with pytest.raises(ValueError, match="at least one action"):
        parse_actions(" , ")


class OffTheLoop:
    """A registry that notes every call made on a thread running an event loop."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.on_loop: list[str] = []

    def __getattr__(self, name):
        attribute = getattr(self.inner, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            try:
                asyncio.get_running_loop()
                self.on_loop.append(name)
            except RuntimeError:
                pass  # a worker thread: as it should be
            return attribute(*args, **kwargs)

        return call


def test_the_event_loop_never_waits_on_the_store(tmp_path):
    """Cache misses (a new environment, an unknown one, an unknown token id) are read
    in a thread; hits never reach the registry at all."""
    database = Database(tmp_path / "segments.db")
    registry = OffTheLoop(SqliteRegistry(database))
    first = registry.bootstrap()
    store = SqliteSegmentStore(database)
    app = create_app(
        Settings(public_url="https://flags.example.com"),
        registry,
        store,
        writer=GroupWriter(store),
    )
    client_id = first.environment.client_side_id
    with serving(app) as url, httpx.Client(base_url=url) as client:
        client.headers["Authorization"] = first.token
        ingest = "/api/v2/segment-targets/amplitude"
        for cohort in ("a", "b"):  # the second one from memory
            body = amplitude(client_id, cohort, ["u1"])
            assert client.post(ingest, json=body).status_code == 204
        unknown = client.post(ingest, json=amplitude("nowhere", "c", ["u1"]))
        assert unknown.json()["code"] == "unknown_environment"
        stranger = {"Authorization": "api-000000000000-" + "x" * 43}
        denied = client.post(
            ingest, json=amplitude(client_id, "c", ["u"]), headers=stranger
        )
        assert denied.json()["code"] == "invalid_token"
    app.close()
    database.close()
    assert registry.on_loop == []
