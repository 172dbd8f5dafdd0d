"""Fixtures of the playground tier: one playground server and one browser per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.browser import start_chromium
from tests.browser import unavailable_reason as chromium_missing

from .helpers import MANIFESTS, Playground


@pytest.fixture(scope="session")
def playground(tmp_path_factory) -> Iterator[Playground]:
    """The playground over the shipped manifests, run from an empty folder (the tests
    check that it stays empty: the playground writes nothing)."""
    server = Playground(tmp_path_factory.mktemp("playground-cwd"), "--manifests",
                        str(MANIFESTS))  # fmt: skip
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    reason = chromium_missing()
    if reason is not None and os.environ.get("CI"):
        pytest.fail(f"CI must run the browser test: {reason}")  # ./dev installs it
    if reason is not None:
        pytest.skip(reason)
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()
