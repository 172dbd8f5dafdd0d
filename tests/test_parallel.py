"""The suite's parallel run keeps xdist groups on one worker, as its fixtures assume.

./dev test runs pytest-xdist with --dist loadgroup: the tests of one module-scoped
fixture (tests/conftest.py) or of one explicit xdist_group share a worker, so that the
fixture is made once. pytest-xdist marks a grouped test by its node id; when that stops
working (as with pytest 9.2, pytest-dev/pytest-xdist#1386) tests are spread as if
ungrouped, nothing fails, and every shared fixture is silently made on every worker.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def shared() -> object:
    return object()


@pytest.fixture
def grouping(request) -> None:
    """Only on an xdist worker of a --dist loadgroup run, where groups are made."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not a --dist loadgroup run (./dev test runs one)")


@pytest.mark.xdist_group("canary")
def test_an_explicit_group_reaches_the_scheduler(request, grouping):
    assert request.node.nodeid.endswith("@canary")


def test_a_module_fixture_makes_a_group(request, grouping, shared):
    assert request.node.nodeid.endswith("@module-tests.test_parallel")
