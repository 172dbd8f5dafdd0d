"""The playground's JSON API: one request per edit, answered by compiler.trial.

`answer_try` takes the page's request body ({"key", "manifest", "body", "black"}) and
returns the status and the document the page shows: the diagnostics with their
positions (and, for those with a quick fix, the range of the string it replaces), the
generated module, the `to_json()` result and the HTTP response. It never raises: a
request it cannot use is a 400 or 413 naming the field, and a failure of the compiler
itself is an error diagnostic in a 200, so the page always has something to show.
Nothing here reads or writes a file except `shipped`, which reads the manifests folder.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable, Optional

from ..diagnostics import Diagnostic
from ..load import load_manifests
from ..positions import SourceMap
from ..trial import BodyResult, Trial, default_formatter, try_manifest

MAX_MANIFEST = 256 * 1024  # bytes of UTF-8
MAX_BODY = 1024 * 1024
# A JSON request escapes its strings (a quote becomes two characters, a control
# character six), so the request may be several times the texts it carries.
MAX_REQUEST = 3 * (MAX_MANIFEST + MAX_BODY)
DEFAULT_KEY = "my-integration"
MANIFEST_FILE = "manifest.json"  # what diagnostics name as their file


@dataclass(frozen=True)
class Answer:
    status: int
    document: dict[str, Any]

    def encoded(self) -> bytes:
        return json.dumps(self.document, ensure_ascii=False).encode("utf-8")


class Refusal(Exception):
    """A request the API cannot use: its status and one sentence saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def answer_try(raw: bytes) -> Answer:
    """The page's request answered: 200 with everything to show, or 400/413."""
    try:
        key, manifest, body, black = request_fields(raw)
    except Refusal as refusal:
        return refused(refusal)
    started = time.perf_counter()
    formatter, notes = chosen_formatter(black)
    bodies = {"body": utf8(body)} if body.strip() else {}
    if not bodies:
        notes.append("no request body: paste one to see the result and the response")
    try:
        trial = try_manifest(
            key, utf8(manifest), bodies, MANIFEST_FILE, formatter=formatter
        )
        document = trial_document(trial, manifest, formatter is not identity)
    except Exception as bug:  # noqa: BLE001 - a compiler bug is shown, never a 500
        document = internal_error(key, bug)
    document["notes"] = notes
    document["milliseconds"] = round((time.perf_counter() - started) * 1000, 1)
    return checked(Answer(200, document))


def request_fields(raw: bytes) -> tuple[str, str, str, bool]:
    """key, manifest text, body text and whether to format with black."""
    if len(raw) > MAX_REQUEST:
        raise request_too_big(len(raw))
    try:
        request = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refusal(400, f"the request is not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise Refusal(400, 'the request must be a JSON object: {"manifest": "..."}')
    key = field(request, "key", str, DEFAULT_KEY) or DEFAULT_KEY
    manifest = field(request, "manifest", str, None)
    body = field(request, "body", str, "")
    black = field(request, "black", bool, False)
    limit(manifest, "manifest", MAX_MANIFEST)
    limit(body, "body", MAX_BODY)
    return key, manifest, body, black


def request_too_big(length: int) -> Refusal:
    return Refusal(
        413, f"the request is {size(length)}; the limit is {size(MAX_REQUEST)}"
    )


def field(request: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    if name not in request:
        if default is None:
            raise Refusal(400, f'the request has no "{name}"')
        return default
    value = request[name]
    if not isinstance(value, kind):
        expected = {str: "a string", bool: "true or false"}[kind]
        raise Refusal(400, f'"{name}" must be {expected}, not {json.dumps(value)[:40]}')
    return value


def utf8(text: str) -> bytes:
    """The bytes a partner would send. A lone surrogate (JSON can carry one) stays
    as invalid UTF-8, which the compiler and the runtime refuse as they would."""
    return text.encode("utf-8", errors="surrogatepass")


def limit(text: str, name: str, most: int) -> None:
    length = len(utf8(text))
    if length > most:
        hint = "; try a bigger one with `python -m compiler try MANIFEST BODY.json`"
        raise Refusal(
            413,
            f"the {name} is {size(length)}; the playground takes up to {size(most)}"
            + (hint if name == "body" else ""),
        )


def size(length: int) -> str:
    if length < 1024:
        return f"{length} bytes"
    if length < 1024 * 1024:
        return f"{length / 1024:.0f} KiB"
    return f"{length / (1024 * 1024):.1f} MiB"


def refused(refusal: Refusal) -> Answer:
    return Answer(refusal.status, {"error": refusal.message})


def identity(source: str) -> str:
    return source


def chosen_formatter(black: bool) -> tuple[Callable[[str], str], list[str]]:
    """identity for the live view; black as `build` formats (try's, which remembers
    the runtime's formatting across edits) when asked."""
    if not black:
        return identity, []
    formatter = default_formatter()
    if formatter is None:
        return identity, ["black is not installed here: the module is shown as emitted"]
    return formatter, []


def trial_document(trial: Trial, manifest_text: str, formatted: bool) -> dict[str, Any]:
    source_map = SourceMap(manifest_text.removeprefix("\ufeff"))
    response = trial.bodies[0] if trial.bodies else None
    return {
        "key": trial.key,
        "ok": trial.ok,
        "diagnostics": [diagnostic_json(d, source_map) for d in trial.diagnostics],
        "module": trial.module,
        "formatted": formatted and bool(trial.module),
        "response": response_json(response) if response is not None else None,
    }


def diagnostic_json(diagnostic: Diagnostic, source_map: SourceMap) -> dict[str, Any]:
    """as_json, plus where a quick fix goes: the whole string value it replaces."""
    document = diagnostic.as_json()
    document["fix_range"] = None
    if diagnostic.replacement is not None:
        node = source_map.node(diagnostic.pointer)
        if node is not None and source_map.text[node.value.start] == '"':
            place = source_map.place(node.value)
            document["fix_range"] = {
                "line": place.line,
                "column": place.column,
                "end_line": place.end_line,
                "end_column": place.end_column,
                "text": json.dumps(diagnostic.replacement, ensure_ascii=False),
            }
    return document


def response_json(body: BodyResult) -> dict[str, Any]:
    try:
        reason = HTTPStatus(body.status).phrase
    except ValueError:
        reason = ""
    return {
        "status": body.status,
        "reason": reason,
        "headers": body.headers,
        "body": body.body.decode("utf-8", errors="replace"),
        "result": body.result,
        "error": body.error or None,
    }


def internal_error(key: str, bug: Exception) -> dict[str, Any]:
    return failed_try(
        key,
        "internal-error",
        f"the compiler failed on this manifest ({type(bug).__name__}: {bug}); this is "
        "a compiler bug",
        "please report it with the manifest and the body",
    )


def stopped(key: str, seconds: float) -> dict[str, Any]:
    """The document of a try that ran out of time (worker.py stopped it)."""
    return failed_try(
        key,
        "try-stopped",
        f"the try took longer than {seconds:g} s and was stopped: the matcher, searched "
        "in this body's action, takes time that grows faster than the action's length "
        "(a repeat inside the pattern, such as \\w+ in x\\w+_added, is tried from "
        "every position), and the service would spend it on every such request",
        "anchor the matcher (^...$) or bound its repeats ({0,64}), then try again",
    )


def key_of(raw: bytes) -> str:
    """The integration key a request names, or the default (for a document about it)."""
    try:
        request = json.loads(raw.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError is one
        return DEFAULT_KEY
    key = request.get("key") if isinstance(request, dict) else None
    return key if isinstance(key, str) and key else DEFAULT_KEY


def failed_try(key: str, code: str, message: str, fix: str) -> dict[str, Any]:
    """A document with one error about the whole manifest, and nothing else to show."""
    problem = {
        "file": MANIFEST_FILE,
        "line": None,
        "column": None,
        "end_line": None,
        "end_column": None,
        "pointer": "",
        "level": "error",
        "code": code,
        "message": message,
        "fix": fix,
        "replacement": None,
        "fix_range": None,
    }
    return {
        "key": key,
        "ok": False,
        "diagnostics": [problem],
        "module": "",
        "formatted": False,
        "response": None,
    }


def checked(answer: Answer) -> Answer:
    """The answer, if the browser's JSON.parse can read it (no NaN, no stray type)."""
    try:
        json.dumps(answer.document, allow_nan=False)
    except (TypeError, ValueError) as bug:
        document = internal_error(answer.document.get("key", ""), bug)
        return Answer(200, {**document, "notes": answer.document.get("notes", [])})
    return answer


def shipped(manifests_dir: Optional[Path]) -> dict[str, Any]:
    """The integrations a partner can start from: each manifest's text and its
    example bodies, read now (so an edit on disk shows on the next page load)."""
    if manifests_dir is None or not manifests_dir.is_dir():
        return {"integrations": [], "folder": None}
    manifests, _ = load_manifests(manifests_dir)  # unreadable ones are left out
    integrations = [
        {
            "key": m.key,
            "manifest": m.text,
            "examples": [
                {"name": Path(e.path).name, "body": e.body.decode("utf-8", "replace")}
                for e in m.examples
            ],
        }
        for m in manifests
    ]
    return {"integrations": integrations, "folder": str(manifests_dir)}


def limits() -> dict[str, Any]:
    return {"manifest": MAX_MANIFEST, "body": MAX_BODY, "request": MAX_REQUEST}
