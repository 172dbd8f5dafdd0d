"""Shared fixtures: packages compiled fresh from manifest folders, imported under own names."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import settings

# In CI (CI set, as every CI service and .ci/run do) each property test draws the same
# examples on every run, so a run passes or fails on the code alone; a failure is
# reproduced by running again. Elsewhere every run draws new examples and replays past
# failures from .hypothesis/. HYPOTHESIS_PROFILE=ci (or default) picks one by hand.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("ci" if os.environ.get("CI") else "default")
)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that share a module-scoped fixture run on one xdist worker (./dev test runs
    --dist loadgroup), so that the fixture is made once, not once on every worker."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        definitions = info.name2fixturedefs.values() if info is not None else ()
        if any(d.scope == "module" for defs in definitions for d in defs):
            item.add_marker(pytest.mark.xdist_group(f"module-{item.module.__name__}"))


ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "manifests"
GOLDEN = ROOT / "tests" / "golden" / "manifests"
SHARED = ROOT.parent / "shared"


@cache
def built(manifests_dir: Path) -> dict[str, str]:
    """The package files a manifest folder compiles to (built once per session)."""
    # Imported here: tests/portable runs under PyPy without the compiler's dependencies.
    from compiler.build import build

    result = build(manifests_dir)
    assert result.ok, "\n".join(d.render() for d in result.diagnostics)
    return result.files


def compile_to(manifests_dir: Path, out_dir: Path) -> ModuleType:
    """Build a manifest folder into out_dir and import the package from there."""
    from compiler import write
    from compiler.cli import import_package

    files = built(manifests_dir)
    write.apply(out_dir, files, write.plan(out_dir, files))
    return import_package(out_dir)


def compile_single_file(manifests_dir: Path, path: Path) -> ModuleType:
    """Build a manifest folder into one module at path and import it under its stem."""
    from compiler.bundle import single_file

    text, problems = single_file(built(manifests_dir))
    assert not problems, "\n".join(d.render() for d in problems)
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def manifests_in(folder: Path) -> dict[str, dict]:
    return {
        path.parent.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("*/manifest.json"))
    }


@pytest.fixture(scope="session")
def shipped(tmp_path_factory) -> ModuleType:
    """The shipped manifests, compiled now (not the committed generated/)."""
    return compile_to(SHIPPED, tmp_path_factory.mktemp("pkg") / "shipped_pkg")


@pytest.fixture(scope="session")
def golden(tmp_path_factory) -> ModuleType:
    return compile_to(GOLDEN, tmp_path_factory.mktemp("pkg") / "golden_pkg")


@pytest.fixture(scope="session")
def shipped_single(tmp_path_factory) -> ModuleType:
    """The shipped manifests as one module, compiled now (not generated_single.py)."""
    return compile_single_file(
        SHIPPED, tmp_path_factory.mktemp("single") / "shipped_one.py"
    )


@pytest.fixture(scope="session")
def golden_single(tmp_path_factory) -> ModuleType:
    return compile_single_file(
        GOLDEN, tmp_path_factory.mktemp("single") / "golden_one.py"
    )
