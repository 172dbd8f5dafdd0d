"""Paths: what the command line is given, checked before any work, one line per mistake.

Every file or folder mistake (missing, a folder for a file or a file for a folder, one
level off, empty, unreadable, an output folder that would shadow a module or overwrite
files the compiler did not write) raises UsageError with one sentence that says what
to pass instead; the command line prints it and exits 2.
"""

from __future__ import annotations

import keyword
import sys
from pathlib import Path

from .load import KEY_PATTERN, MANIFEST_FILE
from .write import is_generated

# Besides the standard library: what the compiler and the generated package import,
# and this project's own packages. A generated package named like one of them would
# be imported in its place (in `parse`, and in any program that puts it on sys.path).
IMPORTED_NAMES = frozenset(
    {"orjson", "jinja2", "jsonschema", "jsonpointer", "black", "compiler", "service"}
)


class UsageError(Exception):
    """A mistake in what the command line was given: one line, exit 2."""


def manifests_folder(path: Path) -> Path:
    """A folder of <key>/manifest.json folders."""
    flag = f"--manifests {path}"
    if path.is_file():
        if path.name == MANIFEST_FILE:
            raise UsageError(
                f"{flag} is one manifest file, not a folder of integrations: pass "
                f"--manifests {path.parent.parent}, or try it alone with "
                f"`python -m compiler try {path}`"
            )
        raise UsageError(
            f"{flag} is a file; it must be a folder of <key>/manifest.json"
        )
    if not path.exists():
        raise UsageError(f"{flag}: no such folder")
    if (path / MANIFEST_FILE).is_file():
        raise UsageError(
            f"{flag} is one integration's folder (it holds {MANIFEST_FILE}): pass "
            f"its parent, --manifests {path.parent}, or try it alone with "
            f"`python -m compiler try {path}`"
        )
    folders = listed(path, flag)
    if not any((f / MANIFEST_FILE).is_file() for f in folders):
        if (path / "manifests").is_dir():
            raise UsageError(f"{flag} has no <key>/{MANIFEST_FILE}; did you mean "
                             f"--manifests {path / 'manifests'}?")  # fmt: skip
        what = (
            "is empty" if not folders else "has no <key>/manifest.json in its folders"
        )
        raise UsageError(
            f"{flag} {what}: it must hold one folder per integration, named after its "
            f"key, each with a {MANIFEST_FILE}"
        )
    return path


def listed(folder: Path, flag: str) -> list[Path]:
    try:
        return [
            p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
        ]
    except OSError as exc:
        raise UsageError(
            f"{flag}: cannot read the folder: {exc.strerror or exc}"
        ) from None


def out_folder(path: Path) -> Path:
    """A folder the build may write a package to (it may not exist yet)."""
    flag = f"--out {path}"
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} is a file; --out names the folder the package is "
                         "written to")  # fmt: skip
    for parent in path.absolute().parents:
        if parent.exists() and not parent.is_dir():
            raise UsageError(
                f"{flag}: {parent} is a file, so the folder cannot be made"
            )
    shadowed = shadowed_module(path)
    if shadowed:
        raise UsageError(
            f"{flag}: a package named {shadowed!r} would be imported instead of "
            f"Python's {shadowed} module (by `parse`, by your service, and by python "
            f"itself when run in {path.absolute().parent}); pick another name, e.g. "
            f"--out {path.with_name(shadowed + '_parsers')}"
        )
    if (path / MANIFEST_FILE).exists() or any(path.glob(f"*/{MANIFEST_FILE}")):
        raise UsageError(f"{flag} holds manifests; the generated package needs a "
                         "folder of its own, e.g. --out generated")  # fmt: skip
    return path


def single_file_path(path: Path) -> Path:
    """A file the build may write the single-file module to (it may not exist yet)."""
    flag = f"--single-file {path}"
    name = path.stem
    if path.is_dir():
        raise UsageError(f"{flag} is a folder; name the module's file, e.g. "
                         f"{path / 'generated_single.py'}")  # fmt: skip
    if not path.parent.is_dir():
        raise UsageError(f"{flag}: its folder {path.parent} does not exist")
    if path.suffix != ".py":
        raise UsageError(f"{flag} must end in .py to be importable")
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(f"{flag}: {name!r} is not a Python module name")
    shadowed = shadowed_module(path.with_suffix(""))
    if shadowed:
        raise UsageError(f"{flag}: it would be imported instead of Python's {shadowed} "
                         f"module; pick another name, e.g. {shadowed}_parsers.py")  # fmt: skip
    if (path.parent / name / "__init__.py").is_file():
        raise UsageError(f"{flag}: {path.parent / name}/ is a package that "
                         f"`import {name}` loads instead; pick another name")  # fmt: skip
    if path.exists() and not (path.is_file() and is_generated(path)):
        raise UsageError(f"{flag} is a file the compiler did not write; move it away "
                         "or pick another name")  # fmt: skip
    return path


def foreign_files(out: Path, names: list[str]) -> list[str]:
    """The files a build would overwrite that the compiler did not write."""
    foreign = []
    for name in names:
        target = out / name
        try:
            if target.exists() and not (target.is_file() and is_generated(target)):
                foreign.append(name)
        except OSError:
            foreign.append(name)
    return foreign


def shadowed_module(path: Path) -> str:
    """The module a package in this folder would shadow, or ""."""
    name = path.absolute().name
    if name in sys.stdlib_module_names or name in IMPORTED_NAMES:
        return name
    return ""


def package_folder(path: Path) -> Path:
    """A folder holding a generated package (for `parse`)."""
    flag = f"--out {path}"
    if path.is_file():
        raise UsageError(f"{flag} is a file; it must be the generated package's folder")
    shadowed = shadowed_module(path)
    if shadowed:
        raise UsageError(f"{flag}: a package named {shadowed!r} shadows Python's "
                         f"{shadowed} module; build it under another name")  # fmt: skip
    if not (path / "__init__.py").is_file():
        what = "does not exist" if not path.exists() else "has no generated package"
        raise UsageError(
            f"{path}/ {what}: build it with `python -m compiler build --out {path}`, "
            "or try a manifest without building: `python -m compiler try "
            "manifests/KEY BODY.json`"
        )
    return path


def body_bytes(path: Path) -> bytes:
    """A request body file, or stdin for "-"."""
    if str(path) == "-":
        return sys.stdin.buffer.read()
    if path.is_dir():
        bodies = sorted(path.glob("*.json"))[:3]
        hint = f" (e.g. {', '.join(str(b) for b in bodies)})" if bodies else ""
        raise UsageError(f"BODY {path} is a folder; give body files{hint}")
    if not path.exists():
        raise UsageError(f"BODY {path}: no such file")
    return read_bytes(path, "BODY")


def read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"{what} {path}: cannot read it: {exc.strerror or exc}"
        ) from None


def manifest_argument(path: Path, key: str | None) -> tuple[Path, str]:
    """(manifest file, integration key) of `try MANIFEST`: a manifest.json or its
    folder; the key is the folder's name unless --key says otherwise."""
    if not path.exists():
        raise UsageError(f"MANIFEST {path}: no such file or folder")
    if path.is_dir():
        file = path / MANIFEST_FILE
        if file.is_dir():
            raise UsageError(f"MANIFEST {file} is a folder, not a file")
        if not file.exists():
            inside = sorted(p.parent.name for p in path.glob(f"*/{MANIFEST_FILE}"))
            if inside:
                raise UsageError(
                    f"MANIFEST {path} is a folder of integrations; try one of them, "
                    f"e.g. `python -m compiler try {path / inside[0]} BODY.json`"
                )
            raise UsageError(f"MANIFEST {path} has no {MANIFEST_FILE}")
    else:
        file = path
    name = key if key is not None else file.absolute().parent.name
    if not KEY_PATTERN.fullmatch(name):
        where = "--key" if key is not None else f"the folder name of {file}"
        raise UsageError(
            f"{where} {name!r} is not an integration key (^[a-z0-9][a-z0-9._-]*$): "
            "rename the folder, or pass --key KEY"
        )
    return file, name
