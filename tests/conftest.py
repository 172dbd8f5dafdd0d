"""Shared fixtures: packages compiled fresh from manifest folders, imported under own names."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "manifests"
GOLDEN = ROOT / "tests" / "golden" / "manifests"
SHARED = ROOT.parent / "shared"


def compile_to(manifests_dir: Path, out_dir: Path) -> ModuleType:
    """Build a manifest folder into out_dir and import the package from there."""
    # Imported here: tests/portable runs under PyPy without the compiler's dependencies.
    from compiler import write
    from compiler.build import build
    from compiler.cli import import_package

    result = build(manifests_dir)
    assert result.ok, "\n".join(d.render() for d in result.diagnostics)
    write.apply(out_dir, result.files, write.plan(out_dir, result.files))
    return import_package(out_dir)


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
