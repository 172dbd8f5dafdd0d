"""Trial: compile one manifest in memory and run request bodies through it.

The core of `python -m compiler try` and of the playground: pure (it reads and writes
no file), so text typed in a browser goes through exactly what a build does (load,
validate, lower, emit, format, verify), then through the generated runtime's own
`handle`, the answer a service gives, and `read_request` for the `to_json()` result.
The bodies double as example bodies for the lints (a key that really holds a dot, the
action values the partner sends).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from .build import compile_manifests
from .diagnostics import Diagnostic, error, has_errors
from .format import format_source
from .load import KEY_PATTERN, Example, Manifest, manifest_from_bytes
from .memory_package import imported
from .naming import module_name

Text = Union[str, bytes]
Bodies = Union[Mapping[str, Text], Sequence[Text]]


@dataclass(frozen=True)
class BodyResult:
    """What the generated parser and runtime make of one request body."""

    name: str
    status: int
    headers: dict[str, str]
    body: bytes  # the response body, the rendered jsonResponseBody included
    result: Optional[dict[str, Any]]  # SyncRequest.to_json(); None when refused
    error: str = ""  # "400 missing_value: ..." when refused

    @property
    def refused(self) -> bool:
        return self.result is None


@dataclass(frozen=True)
class Trial:
    key: str
    diagnostics: tuple[Diagnostic, ...]
    module: str  # the generated module's source; "" when the manifest has errors
    bodies: tuple[BodyResult, ...]

    @property
    def ok(self) -> bool:
        """The manifest compiled and no body was refused."""
        return not has_errors(self.diagnostics) and not any(
            b.refused for b in self.bodies
        )


def try_manifest(
    key: str,
    manifest: Union[Text, Any],
    bodies: Bodies = (),
    file: str = "manifest.json",
    public_url: Optional[str] = None,  # None: the runtime's default
    formatter: Optional[Callable[[str], str]] = None,
) -> Trial:
    """Compile one manifest (its text, or its decoded document) under an integration
    key, and run every body through the result. formatter defaults to black when it is
    installed (as a build formats), else the code is left as emitted."""
    named = named_bodies(bodies)
    loaded, problem = manifest_value(key, manifest, file)
    if problem is not None:
        return Trial(key, (problem,), "", ())
    assert loaded is not None  # manifest_value gives a manifest or a problem
    examples = tuple(example(name, body) for name, body in named)
    loaded = replace(loaded, examples=examples)
    result = compile_manifests([loaded], formatter=formatter or default_formatter())
    diagnostics = result.diagnostics
    if result.skipped:
        diagnostics += (no_capability(file),)
    if has_errors(diagnostics):
        return Trial(key, diagnostics, "", ())
    with imported(result.files) as package:
        runs = tuple(run_body(package, key, n, b, public_url) for n, b in named)
    return Trial(key, diagnostics, result.files[f"{module_name(key)}.py"], runs)


def named_bodies(bodies: Bodies) -> list[tuple[str, bytes]]:
    items = bodies.items() if isinstance(bodies, Mapping) else (
        (f"body {i}", b) for i, b in enumerate(bodies, 1))  # fmt: skip
    return [(n, b.encode("utf-8") if isinstance(b, str) else b) for n, b in items]


def manifest_value(
    key: str, manifest: Union[Text, Any], file: str
) -> tuple[Optional[Manifest], Optional[Diagnostic]]:
    if not KEY_PATTERN.fullmatch(key):
        return None, error(
            "bad-integration-key",
            file,
            "",
            f"{key!r} is not a valid integration key",
            "use lower-case letters, digits, '.', '_' and '-', starting with a letter "
            "or a digit (^[a-z0-9][a-z0-9._-]*$)",
        )
    source = f"manifests/{key}/manifest.json"
    if isinstance(manifest, (str, bytes)):
        raw = manifest.encode("utf-8") if isinstance(manifest, str) else manifest
        return manifest_from_bytes(key, file, source, raw)
    return Manifest(key, file, source, "0" * 64, manifest), None


def example(name: str, body: bytes) -> Example:
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (ValueError, RecursionError):  # not JSON, not UTF-8 or too deep: a 400
        document = None
    return Example(name, body, document)


def no_capability(file: str) -> Diagnostic:
    return error(
        "no-synced-segment",
        file,
        "",
        "the manifest has no capabilities.syncedSegment: there is no parser to try",
        'add "capabilities": {"syncedSegment": {"requestParser": {...}}}',
    )


def run_body(
    package: ModuleType, key: str, name: str, body: bytes, public_url: Optional[str]
) -> BodyResult:
    where = {} if public_url is None else {"public_url": public_url}
    status, headers, answer = package.handle(key, body, **where)
    _, parsed = package.read_request(package.parser_for(key), body)
    if isinstance(parsed, package.ParseError):
        refusal = f"{parsed.status} {parsed.code}: {parsed.message}"
        return BodyResult(name, status, headers, answer, None, refusal)
    return BodyResult(name, status, headers, answer, parsed.to_json())


def default_formatter() -> Optional[Callable[[str], str]]:
    # format_source remembers its answers: the runtime and most of a manifest edited in
    # the playground render the same text try after try, and black is most of a try.
    return format_source if importlib.util.find_spec("black") is not None else None
