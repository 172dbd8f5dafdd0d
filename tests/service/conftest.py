"""Fixtures of the service tier: one shared server, started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import Service


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
