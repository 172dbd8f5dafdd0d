"""Diagnostics: errors and warnings as values, collected across a whole build."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One problem in one manifest: where it is, what is wrong, and how to fix it."""

    level: str  # ERROR or WARNING
    code: str  # stable short name, e.g. "unknown-property"
    file: str  # the manifest path as given to the build
    pointer: str  # JSON pointer of the offending node in the manifest ("" = whole file)
    message: str
    hint: str

    def render(self) -> str:
        where = f"{self.file}#{self.pointer}" if self.pointer else self.file
        head = f"{where}: {self.level}: {self.message} [{self.code}]"
        return f"{head}\n  fix: {self.hint}"


def error(code: str, file: str, pointer: str, message: str, hint: str) -> Diagnostic:
    return Diagnostic(ERROR, code, file, pointer, message, hint)


def warning(code: str, file: str, pointer: str, message: str, hint: str) -> Diagnostic:
    return Diagnostic(WARNING, code, file, pointer, message, hint)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.level == ERROR for d in diagnostics)


def pointer_join(*tokens: str | int) -> str:
    """A JSON pointer built from raw tokens (escaping ~ and /)."""
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)
