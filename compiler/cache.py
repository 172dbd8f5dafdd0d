"""Cache: which generated files a build may take as they are, without rendering again.

A file is reused only when everything it is made from is unchanged (the compiler's own
sources, templates and black version, plus the file's inputs) and the file on disk still
hashes to what the cache recorded when it was written, so a hand edit is never masked
and `build --check` stays exact. The cache lives beside the output, never inside a
generated file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from . import __version__
from .emit import TEMPLATES

CACHE_FILE = ".build-cache.json"


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """A hash of everything that shapes generated code besides the manifests."""
    # slow to import; only a build needs it
    from importlib.metadata import PackageNotFoundError, version

    try:
        black = version("black")
    except PackageNotFoundError:  # `check` runs without black: nothing is cached then
        black = "absent"
    digest = hashlib.sha256(f"{__version__} black {black}".encode())
    # The same files in a checkout and in an installed wheel: the compiler's modules and
    # schema (package data), then the templates wherever they are.
    sources = files_in(resources.files(__package__), (".py", ".json"))
    for item in sources + files_in(TEMPLATES, (".j2",)):
        digest.update(item.name.encode() + b"\0" + item.read_bytes() + b"\0")
    return digest.hexdigest()


def files_in(folder: Traversable, suffixes: tuple[str, ...]) -> list[Traversable]:
    """Files under folder whose names end with one of suffixes, in a stable order."""
    found: list[Traversable] = []
    for item in sorted(folder.iterdir(), key=lambda item: item.name):
        if item.is_dir():
            found += files_in(item, suffixes)
        elif item.name.endswith(suffixes):
            found.append(item)
    return found


def file_key(*inputs: str) -> str:
    """The cache key of one generated file made from these inputs."""
    return hashlib.sha256("\0".join((fingerprint(), *inputs)).encode()).hexdigest()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PreviousBuild:
    """What the output folder holds: the recorded keys and the files' current text."""

    keys: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # name -> (key, hash)
    files: dict[str, str] = field(default_factory=dict)

    def reusable(self, name: str, key: str) -> str | None:
        """The file's text when it was made from the same inputs and is untouched."""
        recorded = self.keys.get(name)
        text = self.files.get(name)
        if recorded is None or text is None or recorded[0] != key:
            return None
        return text if text_hash(text) == recorded[1] else None


def read_previous(out_dir: Path) -> PreviousBuild:
    """The cache and current files of an output folder (empty when there is none)."""
    try:
        recorded = json.loads((out_dir / CACHE_FILE).read_text(encoding="utf-8"))
        keys = {name: (entry[0], entry[1]) for name, entry in recorded["files"].items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return PreviousBuild()
    files = {}
    for name in keys:
        try:
            files[name] = (out_dir / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return PreviousBuild(keys, files)


def cache_text(keys: dict[str, str], files: dict[str, str]) -> str:
    """The cache file recording, for each written file, its key and its text's hash."""
    entries = {name: [keys[name], text_hash(files[name])] for name in sorted(files)}
    return json.dumps({"files": entries}, indent=1, sort_keys=True) + "\n"
