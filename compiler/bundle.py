"""Bundle: the generated package as one module, for runtimes that take a single file.

Made from the package's formatted files, not from the templates, so that it holds the
very code of generated/ whatever the templates become. Each module of the package turns
into a function whose body is that module's code, and whose locals() become a namespace
(the runtime's at import, a parser's on first use); the registry (__init__.py) runs at
the top with its relative imports turned into assignments, and its _import replaced.

Code at module level and code in a function differ in a few ways (global statements,
globals(), __name__, names a module uses but never defines, class bodies that read a
name they also bind). check_module and check_scopes prove that none of them occurs, or
the build fails naming the file and the reason: the single file is exact or not made.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import re
import symtable
from dataclasses import dataclass
from typing import Iterator

from . import __version__
from .diagnostics import Diagnostic, error
from .emit import REGISTRY_FILE, RUNTIME_FILE, Header, render
from .format import FormatError, format_source
from .naming import RUNTIME_MODULE

COMMAND = "python -m compiler build --single-file PATH"
INDENT = "    "
SEAM = "_import"  # the registry's function that knows modules are files
# Names whose meaning changes when code runs in a function instead of at module level.
MODULE_LEVEL_ONLY = frozenset(
    ("globals", "locals", "vars", "exec", "eval")
    + ("__name__", "__file__", "__doc__", "__spec__", "__loader__", "__package__")
    + ("__path__", "__builtins__", "__cached__", "__annotations__")
)
_HEADER_FIELD = re.compile(r"^# (Source|sha256): (.+)$", re.MULTILINE)


class BundleError(ValueError):
    """Code of the package that the single-file form could not hold exactly."""

    def __init__(self, file: str, line: int, message: str) -> None:
        where = f"line {line}: " if line else ""
        super().__init__(where + message)
        self.file = file


@dataclass(frozen=True)
class Block:
    """One module of the package, as the function that makes its namespace."""

    module: str  # its name in the package
    function: str  # the function in the single file
    header: str  # its header comments: version, source and sha256
    body: str  # its code, indented to be the function's body
    imports_runtime: bool  # whether it did `from . import _runtime`

    @property
    def module_literal(self) -> str:
        return repr(self.module)


@dataclass(frozen=True)
class Registry:
    """The package's __init__, split for the single file."""

    header: str
    imports: str  # its absolute imports, at the top of the single file
    body: str  # the rest: relative imports as assignments, and no _import


def single_file(files: dict[str, str]) -> tuple[str, list[Diagnostic]]:
    """The formatted single-file module of a rendered package, or why there is none."""
    try:
        return format_source(bundle(files)), []
    except BundleError as exc:
        return "", [
            error(
                "internal-bundle",
                f"generated/{exc.file}",
                "",
                f"the single-file form cannot hold this module: {exc}",
                "keep generated code free of module-level-only constructs, or teach "
                "compiler/bundle.py to hold them",
            )
        ]
    except FormatError as exc:
        return "", [
            error(
                "internal-format",
                "single file",
                "",
                f"the compiler produced invalid Python: {exc}",
                "report this with the manifests that caused it",
            )
        ]


def bundle(files: dict[str, str]) -> str:
    """Unformatted source of the single-file form of a rendered package."""
    registry = split_registry(files[REGISTRY_FILE])
    runtime = module_block(RUNTIME_FILE, files[RUNTIME_FILE])
    if runtime.imports_runtime:
        raise BundleError(RUNTIME_FILE, 0, "the runtime imports itself")
    parsers = [
        module_block(name, files[name])
        for name in sorted(files)
        if name not in (REGISTRY_FILE, RUNTIME_FILE)
    ]
    blocks = [runtime, *parsers]
    text = render(
        "single_file.py.j2",
        header=bundle_header([registry.header] + [b.header for b in blocks]),
        registry=registry,
        runtime=runtime,
        runtime_name=RUNTIME_MODULE,
        parsers=parsers,
        seam=SEAM,
    )
    check_scopes(text, blocks)
    return text


def bundle_header(headers: list[str]) -> Header:
    """Sources of the registry and the runtime, and one hash over every embedded file's.

    headers: the registry's, the runtime's, then each parser's (which stay above their
    functions, naming their own manifests).
    """
    fields = [dict(_HEADER_FIELD.findall(header)) for header in headers]
    digest = hashlib.sha256()
    for header, found in zip(headers, fields):
        if set(found) != {"Source", "sha256"}:
            raise BundleError(
                "", 0, f"a generated header without Source and sha256: {header}"
            )
        digest.update(f"{found['Source']} {found['sha256']}\n".encode())
    source = ", ".join(found["Source"] for found in fields[:2])
    return Header(__version__, source, digest.hexdigest(), COMMAND)


# --- one module as a function body


def module_block(name: str, text: str) -> Block:
    tree = ast.parse(text)
    check_module(name, tree)
    lines = text.splitlines(keepends=True)
    start = leading_comments(lines)
    replaced: dict[int, tuple[int, list[str]]] = {}  # first line -> (end, new lines)
    imports_runtime = False
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.level:
            new = relative_import(name, stmt)
            imports_runtime |= stmt.module is None
            replaced[stmt.lineno - 1] = (statement_end(stmt), new)
    in_strings = string_continuation_lines(tree)
    body: list[str] = []
    index = start
    while index < len(lines):
        if index in replaced:
            end, new = replaced[index]
            body += [INDENT + line + "\n" for line in new]
            index = end
            continue
        line = lines[index]
        # a line that continues a multi-line string keeps its text: it is the string's
        body.append(
            line if index + 1 in in_strings or not line.strip() else INDENT + line
        )
        index += 1
    module = name[: -len(".py")]
    return Block(
        module,
        f"_module_{module}",
        "".join(lines[:start]),
        "".join(body).rstrip("\n"),
        imports_runtime,
    )


def leading_comments(lines: list[str]) -> int:
    count = 0
    while count < len(lines) and lines[count].startswith("#"):
        count += 1
    return count


def statement_end(stmt: ast.stmt) -> int:
    end = stmt.end_lineno
    assert end is not None
    return end


def relative_import(name: str, stmt: ast.ImportFrom) -> list[str]:
    """`from . import _runtime` goes (the single file has one); other names are read."""
    if stmt.level == 1 and stmt.module is None:
        aliases = [(a.name, a.asname or a.name) for a in stmt.names]
        if all(source == RUNTIME_MODULE for source, _ in aliases):
            return [
                f"{bound} = {RUNTIME_MODULE}"
                for _, bound in aliases
                if bound != RUNTIME_MODULE
            ]
    if stmt.level == 1 and stmt.module == RUNTIME_MODULE:
        if any(a.name == "*" for a in stmt.names):
            raise BundleError(name, stmt.lineno, "a star import from the runtime")
        return [f"{a.asname or a.name} = {RUNTIME_MODULE}.{a.name}" for a in stmt.names]
    raise BundleError(
        name, stmt.lineno, "a relative import of something other than the runtime"
    )


def string_continuation_lines(tree: ast.AST) -> set[int]:
    """Line numbers that continue a string literal begun on an earlier line."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        text = isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))
        if text or isinstance(node, ast.JoinedStr):
            end = node.end_lineno or node.lineno  # type: ignore[attr-defined]
            inside.update(range(node.lineno + 1, end + 1))  # type: ignore[attr-defined]
    return inside


def check_module(name: str, tree: ast.Module) -> None:
    """Refuse what means something else once a module's code runs in a function."""
    top_level = set(map(id, tree.body))
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Global):
            raise BundleError(name, line, "a global statement")
        if isinstance(node, ast.ImportFrom):
            if node.module == "__future__":
                raise BundleError(name, line, "a __future__ import")
            if node.level and id(node) not in top_level:
                raise BundleError(name, line, "a relative import below module level")
            if any(alias.name == "*" for alias in node.names):
                raise BundleError(name, line, "a star import")
        if isinstance(node, ast.Name) and node.id in MODULE_LEVEL_ONLY:
            raise BundleError(
                name, line, f"{node.id}, which a function sees differently"
            )
        if isinstance(node, ast.Call) and not node.args and not node.keywords:
            if isinstance(node.func, ast.Name) and node.func.id == "dir":
                raise BundleError(
                    name, line, "dir(), which a function sees differently"
                )


# --- the registry at the top of the single file


def split_registry(text: str) -> Registry:
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    start = leading_comments(lines)
    imports: list[str] = []
    body = lines[:]  # replaced line by line; None marks a removed line
    seam_found = False
    for stmt in tree.body:
        first, end = first_line(stmt) - 1, statement_end(stmt)
        if isinstance(stmt, ast.Import) or (
            isinstance(stmt, ast.ImportFrom) and not stmt.level
        ):
            imports += lines[first:end]
            new: list[str] = []
        elif isinstance(stmt, ast.ImportFrom):
            new = [line + "\n" for line in relative_import(REGISTRY_FILE, stmt)]
        elif isinstance(stmt, ast.FunctionDef) and stmt.name == SEAM:
            seam_found, new = True, []
        elif is_docstring(stmt) and stmt is tree.body[0]:
            new = []
        else:
            continue
        body[first:end] = [None] * (end - first)  # type: ignore[list-item]
        body[first] = "".join(new)
    if not seam_found:
        raise BundleError(
            REGISTRY_FILE, 0, f"no {SEAM}() for the single file to replace"
        )
    rest = "".join(line for line in body[start:] if line is not None)
    check_module(REGISTRY_FILE, ast.parse(rest))
    if "ModuleType" not in "".join(imports):
        raise BundleError(REGISTRY_FILE, 0, "no import of types.ModuleType")
    return Registry(
        "".join(lines[:start]), "".join(imports).rstrip("\n"), rest.strip("\n")
    )


def first_line(stmt: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(stmt, "decorator_list", [])
    return min([stmt.lineno] + [d.lineno for d in decorators])


def is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


# --- what each module's code resolves at the single file's top level


def check_scopes(text: str, blocks: list[Block]) -> None:
    """Every name a module's code leaves to the globals is a builtin (or the runtime)."""
    table = symtable.symtable(text, "single file", "exec")
    top_level = {
        s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()
    }
    shadowed = top_level & set(dir(builtins))
    if shadowed:
        raise BundleError(
            "", 0, f"the single file would bind builtins: {sorted(shadowed)}"
        )
    by_function = {block.function: block for block in blocks}
    for child in table.get_children():
        block = by_function.get(child.get_name())
        if block is None:
            continue
        allowed = set(dir(builtins)) | (
            {RUNTIME_MODULE} if block.imports_runtime else set()
        )
        for name in sorted(set(global_names(child)) - allowed):
            raise BundleError(
                f"{block.module}.py",
                0,
                f"{name} is used but not defined: in the package a NameError, here "
                "it would be the single file's",
            )
        module_level = {s.get_name() for s in child.get_symbols() if s.is_local()}
        for klass, name in class_reads_of_own_names(child):
            if name in module_level:
                raise BundleError(
                    f"{block.module}.py",
                    0,
                    f"class {klass} reads {name}, which it also binds: in a function its "
                    "body would look for the module's in the single file's globals",
                )


def global_names(table: symtable.SymbolTable) -> Iterator[str]:
    """Names resolved in the globals, in this scope or any scope within it."""
    for symbol in table.get_symbols():
        if symbol.is_global():
            yield symbol.get_name()
    for child in table.get_children():
        yield from global_names(child)


def class_reads_of_own_names(table: symtable.SymbolTable) -> Iterator[tuple[str, str]]:
    for child in table.get_children():
        if child.get_type() == "class":
            for symbol in child.get_symbols():
                if symbol.is_assigned() and symbol.is_referenced():
                    yield child.get_name(), symbol.get_name()
        yield from class_reads_of_own_names(child)
