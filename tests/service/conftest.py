"""Fixtures of the service tier: one shared server, started once per session."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from .helpers import Service
from .redis_server import RedisServer, unavailable_reason


@pytest.fixture(scope="session")
def service(tmp_path_factory) -> Iterator[Service]:
    """One server shared by the tests that do not need special options."""
    db = tmp_path_factory.mktemp("shared") / "segments.db"
    server = Service(
        db, "--rate-limit", "100000/1", "--public-url", "https://flags.example.com/"
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def first_start(service) -> tuple[str, str]:
    """(client-side id, writer token) the shared server printed on its first start."""
    return service.welcome()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    """One real redis-server for the session; tests take a database number each."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


_databases = itertools.count(1)


@pytest.fixture
def redis_db(redis_server) -> Iterator[int]:
    """An empty Redis database of the session's server (db 1, 2, ...; 16 in all, reused)."""
    db = next(_databases) % 16 or 1
    client = redis_server.client(db)
    client.flushdb()
    try:
        yield db
    finally:
        client.flushdb()  # a million members would otherwise stay in memory
        client.close()


@pytest.fixture(scope="session")
def example_environment(service) -> tuple[str, str]:
    """The shared server with the environment the OpenAPI examples name, and a writer.

    (project key, environment key) of that environment.
    """
    from service.http.openapi import EXAMPLE_CLIENT_SIDE_ID

    from .helpers import cli

    result = cli(service.db, "environment", "add", EXAMPLE_CLIENT_SIDE_ID, "docs", "ex")
    assert result.returncode == 0, result.stderr
    return "docs", "ex"
