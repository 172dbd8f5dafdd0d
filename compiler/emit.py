"""Emit: render the IR through the Jinja2 templates into {relative path: Python source}."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from . import __version__, ir
from .naming import RUNTIME_MODULE

if TYPE_CHECKING:
    import jinja2


def template_folder() -> Traversable:
    """The Jinja2 templates: package data of an installed compiler, or templates/ of a checkout.

    The repository keeps them at its top, beside compiler/ (the team's layout); the wheel
    ships the same files as compiler/templates (pyproject.toml maps one to the other).
    """
    packaged = resources.files(__package__) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "templates"


TEMPLATES = template_folder()


def load_template(name: str) -> tuple[str, str, Callable[[], bool]] | None:
    """(source, file name, up-to-date check) for Jinja2; None when there is no such file."""
    source = TEMPLATES / name
    if not source.is_file():
        return None
    return source.read_text(encoding="utf-8"), str(source), lambda: True


@dataclass(frozen=True)
class Header:
    """What every generated file's header says about where it came from."""

    version: str
    source: str
    sha256: str
    command: str = "python -m compiler build"  # what remakes the file


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    import jinja2  # here: a no-op build never renders

    # Strict: a misspelled variable is an error, never an empty string in generated code.
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(load_template),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(template: str, **context: object) -> str:
    return environment().get_template(template).render(**context)


def template_sha256(name: str) -> str:
    return hashlib.sha256((TEMPLATES / name).read_bytes()).hexdigest()


def module_file(module: ir.ParserModule) -> str:
    return f"{module.module_name}.py"


RUNTIME_FILE = f"{RUNTIME_MODULE}.py"
REGISTRY_FILE = "__init__.py"


def emit_module(module: ir.ParserModule) -> str:
    """Unformatted source of one integration's parser module."""
    header = Header(__version__, module.source, module.sha256)
    return render("parser.py.j2", m=module, header=header)


def emit_runtime() -> str:
    header = Header(
        __version__, "templates/_runtime.py.j2", template_sha256("_runtime.py.j2")
    )
    return render("_runtime.py.j2", header=header)


def emit_registry(modules: list[ir.ParserModule]) -> str:
    return render(
        "__init__.py.j2", registry=registry(modules), header=registry_header(modules)
    )


def registry(modules: list[ir.ParserModule]) -> ir.Registry:
    entries = sorted((m.key, m.module_name) for m in modules)
    return ir.Registry(tuple((repr(key), repr(name)) for key, name in entries))


def registry_header(modules: list[ir.ParserModule]) -> Header:
    """The registry's source is every manifest; its hash covers all of theirs."""
    digest = hashlib.sha256()
    for m in sorted(modules, key=lambda m: m.key):
        digest.update(f"{m.source} {m.sha256}\n".encode())
    folders = sorted({m.source.split("/")[0] for m in modules}) or ["manifests"]
    source = ", ".join(f"{folder}/*/manifest.json" for folder in folders)
    return Header(__version__, source, digest.hexdigest())
