"""Load: read every manifests/<key>/manifest.json into memory (the only stage that reads)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic, error

KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")


@dataclass(frozen=True)
class Manifest:
    """One manifest file as read: its key (folder name), path, bytes hash and decoded JSON."""

    key: str
    path: str  # where diagnostics point, as the build was given it
    source: str  # "<manifests folder name>/<key>/manifest.json": same on every machine
    sha256: str
    document: Any


def load_manifests(root: Path) -> tuple[list[Manifest], list[Diagnostic]]:
    """Every manifest under root, sorted by key, plus the problems reading them."""
    if not root.is_dir():
        return [], [
            error(
                "no-manifests-dir",
                str(root),
                "",
                "the manifests folder does not exist",
                "pass --manifests DIR pointing at a folder of <key>/manifest.json files",
            )
        ]
    manifests: list[Manifest] = []
    diagnostics: list[Diagnostic] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name.startswith("."):
            continue
        manifest, problem = load_one(folder)
        if problem is not None:
            diagnostics.append(problem)
        if manifest is not None:
            manifests.append(manifest)
    return manifests, diagnostics


def load_one(folder: Path) -> tuple[Manifest | None, Diagnostic | None]:
    path = folder / "manifest.json"
    shown = str(path)
    if not KEY_PATTERN.fullmatch(folder.name):
        return None, error(
            "bad-integration-key",
            shown,
            "",
            f"folder name {folder.name!r} is not a valid integration key",
            "rename the folder to match ^[a-z0-9][a-z0-9._-]*$ (lower case)",
        )
    if not path.is_file():
        return None, error(
            "missing-manifest",
            str(folder),
            "",
            "the folder has no manifest.json",
            "add manifest.json to the folder, or remove the folder",
        )
    raw = path.read_bytes()
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        return None, error(
            "not-utf8",
            shown,
            "",
            f"the file is not UTF-8 (byte {exc.start})",
            "save the manifest as UTF-8",
        )
    except json.JSONDecodeError as exc:
        return None, error(
            "invalid-json",
            shown,
            "",
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            "fix the JSON syntax at that position",
        )
    sha = hashlib.sha256(raw).hexdigest()
    source = f"{folder.parent.name}/{folder.name}/manifest.json"
    return Manifest(folder.name, shown, source, sha, document), None
