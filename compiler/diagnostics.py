"""Diagnostics: errors and warnings as values, collected across a whole build."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence

if TYPE_CHECKING:
    from .positions import SourceMap

ERROR = "error"
WARNING = "warning"
FORMATS = ("text", "json", "github")


@dataclass(frozen=True)
class Diagnostic:
    """One problem in one manifest: where it is, what is wrong, and how to fix it."""

    level: str  # ERROR or WARNING
    code: str  # stable short name, e.g. "unknown-property"
    file: str  # the manifest path as given to the build
    pointer: str  # JSON pointer of the offending node in the manifest ("" = whole file)
    message: str
    hint: str
    # Where the node is written: 1-based, the end just after it; 0 while unknown.
    line: int = 0
    column: int = 0
    end_line: int = 0
    end_column: int = 0
    # What to mark: the property's key instead of its value (unknown or missing
    # property), or a range of characters inside the string value (a template's
    # mustache, a matcher's anchor). Read by compiler.positions to set line and column.
    at_key: bool = False
    within: Optional[tuple[int, int]] = None
    # The string value that fixes the problem when it replaces the one at pointer
    # (a corrected pointer, matcher or template), for tools that offer a quick fix.
    replacement: Optional[str] = None

    @property
    def where(self) -> str:
        """FILE:LINE:COLUMN as editors and CI annotations read it (FILE alone if unknown)."""
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"

    def render(self) -> str:
        lines = [f"{self.where}: {self.level}: {self.message} [{self.code}]"]
        if self.pointer:
            lines.append(f"  at {self.pointer}")
        lines.append(f"  fix: {self.hint}")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        """The fields of --format json (0 positions become null)."""
        return {
            "file": self.file,
            "line": self.line or None,
            "column": self.column or None,
            "end_line": self.end_line or None,
            "end_column": self.end_column or None,
            "pointer": self.pointer,
            "level": self.level,
            "code": self.code,
            "message": self.message,
            "fix": self.hint,
            "replacement": self.replacement,
        }

    def github(self) -> str:
        """A GitHub Actions workflow command that annotates the file at the node."""
        properties: list[tuple[str, object]] = [("file", self.file)]
        if self.line:
            properties += [("line", self.line), ("col", self.column)]
            properties += [("endLine", self.end_line), ("endColumn", self.end_column)]
        properties.append(("title", f"{self.code} ({self.pointer or 'whole file'})"))
        fields = ",".join(f"{name}={github_property(str(v))}" for name, v in properties)
        text = f"{self.message}\nfix: {self.hint}"
        return f"::{self.level} {fields}::{github_data(text)}"


def github_data(text: str) -> str:
    """Escape a workflow command's message as the GitHub Actions runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: str) -> str:
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


def render_all(diagnostics: Sequence[Diagnostic], format: str = "text") -> str:
    """Every diagnostic in one of FORMATS, as the command line prints it."""
    if format == "json":
        return json.dumps([d.as_json() for d in diagnostics], indent=2) + "\n"
    if format == "github":
        return "".join(d.github() + "\n" for d in diagnostics)
    return "".join(d.render() + "\n" for d in diagnostics)


def error(
    code: str, file: str, pointer: str, message: str, hint: str, **where: Any
) -> Diagnostic:
    return Diagnostic(ERROR, code, file, pointer, message, hint, **where)


def warning(
    code: str, file: str, pointer: str, message: str, hint: str, **where: Any
) -> Diagnostic:
    return Diagnostic(WARNING, code, file, pointer, message, hint, **where)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.level == ERROR for d in diagnostics)


def pointer_join(*tokens: str | int) -> str:
    """A JSON pointer built from raw tokens (escaping ~ and /)."""
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


def placed(diagnostic: Diagnostic, source_map: Optional[SourceMap]) -> Diagnostic:
    """The diagnostic with the line and column of its node in a compiler.positions
    SourceMap of its file (unchanged when it has a position or the node is not there).
    """
    if diagnostic.line or source_map is None:
        return diagnostic
    span = source_map.span(diagnostic.pointer, diagnostic.at_key, diagnostic.within)
    if span is None:
        return diagnostic
    p = source_map.place(span)
    return replace(
        diagnostic,
        line=p.line,
        column=p.column,
        end_line=p.end_line,
        end_column=p.end_column,
    )
