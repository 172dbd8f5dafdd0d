"""Load: read every manifests/<key>/manifest.json into memory (the only stage that reads)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

from .diagnostics import Diagnostic, error, warning
from .positions import SourceMap

KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
MANIFEST_FILE = "manifest.json"
EXAMPLES_DIR = "examples"  # <key>/examples/*.json: request bodies the partner sends


@dataclass(frozen=True)
class Example:
    """One example request body shipped beside a manifest."""

    path: str
    body: bytes
    document: Any  # None when it is not JSON (a warning says so)


@dataclass(frozen=True)
class Manifest:
    """One manifest file as read: its key (folder name), path, bytes hash and decoded JSON."""

    key: str
    path: str  # where diagnostics point, as the build was given it
    source: str  # "<manifests folder name>/<key>/manifest.json": same on every machine
    sha256: str
    document: Any
    text: str = ""  # the decoded text, for the positions of diagnostics
    examples: tuple[Example, ...] = ()

    def source_map(self) -> Optional[SourceMap]:
        return SourceMap(self.text) if self.text else None


def load_manifests(root: Path) -> tuple[list[Manifest], list[Diagnostic]]:
    """Every manifest under root, sorted by key, plus the problems reading them.

    The command line checks root first (compiler.paths); here a missing folder is
    one diagnostic, for callers of the API.
    """
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
        # hidden folders (.git) and Python's byte-code folder (a helper script beside
        # the manifests makes one) are tools' state, not integrations
        if folder.name.startswith(".") or folder.name == "__pycache__":
            continue
        manifest, problems = load_one(folder)
        diagnostics += problems
        if manifest is not None:
            manifests.append(manifest)
    return manifests, diagnostics


def load_one(
    folder: Path, key: Optional[str] = None
) -> tuple[Manifest | None, list[Diagnostic]]:
    """One integration folder: its manifest (None if unusable) and what was wrong.

    key: the integration key when it is not the folder's name (`try --key`).
    """
    path = folder / MANIFEST_FILE
    shown = str(path)
    key = folder.name if key is None else key
    if not KEY_PATTERN.fullmatch(key):
        return None, [
            error(
                "bad-integration-key",
                shown,
                "",
                f"folder name {key!r} is not a valid integration key",
                "rename the folder to match ^[a-z0-9][a-z0-9._-]*$ (lower case)",
            )
        ]
    if not path.is_file():
        return None, [
            error(
                "missing-manifest",
                str(folder),
                "",
                "the folder has no manifest.json",
                "add manifest.json to the folder, or remove the folder",
            )
        ]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [unreadable(shown, exc)]
    source = f"{folder.parent.name}/{folder.name}/{MANIFEST_FILE}"
    manifest, problem = manifest_from_bytes(key, shown, source, raw)
    if manifest is None:
        assert problem is not None  # manifest_from_bytes gives one or the other
        return None, [problem]
    examples, problems = load_examples(folder / EXAMPLES_DIR)
    return replace(manifest, examples=examples), problems


def manifest_from_bytes(
    key: str, shown: str, source: str, raw: bytes
) -> tuple[Manifest | None, Diagnostic | None]:
    """A manifest from its bytes (a file, or text typed in the playground)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, error(
            "not-utf8",
            shown,
            "",
            f"the file is not UTF-8 (byte {exc.start})",
            "save the manifest as UTF-8",
        )
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, not_json(shown, exc)
    except RecursionError:  # json.loads gives up on arrays or objects nested too deep
        return None, too_deep(shown)
    sha = hashlib.sha256(raw).hexdigest()
    return Manifest(key, shown, source, sha, document, text), None


def not_json(shown: str, exc: json.JSONDecodeError) -> Diagnostic:
    return error(
        "invalid-json",
        shown,
        "",
        f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
        "fix the JSON syntax at that position",
        line=exc.lineno,
        column=exc.colno,
        end_line=exc.lineno,
        end_column=exc.colno + 1,
    )


def too_deep(shown: str) -> Diagnostic:
    return error(
        "invalid-json",
        shown,
        "",
        "not valid JSON here: arrays or objects are nested too deeply to be read",
        "a manifest is a few levels deep: look for a run of unclosed '[' or '{'",
    )


def unreadable(shown: str, exc: OSError) -> Diagnostic:
    return error(
        "unreadable",
        shown,
        "",
        f"cannot read the file: {exc.strerror or exc}",
        "make the file readable by the user running the compiler",
    )


def load_examples(folder: Path) -> tuple[tuple[Example, ...], list[Diagnostic]]:
    """The example bodies beside a manifest; one that is not JSON is a warning."""
    if not folder.is_dir():
        return (), []
    examples, problems = [], []
    for path in sorted(folder.glob("*.json")):
        try:
            body = path.read_bytes()
        except OSError as exc:
            problems.append(unreadable(str(path), exc))
            continue
        try:
            document = json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            where = {}
            if isinstance(exc, json.JSONDecodeError):
                where = {"line": exc.lineno, "column": exc.colno}
                where.update(end_line=exc.lineno, end_column=exc.colno + 1)
            problems.append(
                warning(
                    "example-not-json",
                    str(path),
                    "",
                    f"the example body is not JSON: {exc}",
                    "fix the example, or remove it (examples inform the lints and "
                    "`try`, not the generated parser)",
                    **where,
                )
            )
            document = None
        examples.append(Example(str(path), body, document))
    return tuple(examples), problems
