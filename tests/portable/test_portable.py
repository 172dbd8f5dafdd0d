"""The committed generated/ and generated_single.py agree with the reference interpreter.

Standard library, jsonpointer and hypothesis only: `./dev test` runs this file under
CPython with the rest of the suite and again under PyPy3 (see README.md here).
"""

from __future__ import annotations

import json
import platform
import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import generated  # noqa: E402
import generated_single  # noqa: E402
from tests.portable.cases import (  # noqa: E402
    MANIFESTS,
    VALUES,
    bodies,
    body_of,
    by_integration,
    corpus,
    expected_bytes,
    expected_parse,
    templated,
)
from tests.reference_interpreter import InterpreterError, interpret_bytes  # noqa: E402

FORMS = {"package": generated, "single file": generated_single}
EXAMPLES = settings(
    max_examples=150, deadline=None, suppress_health_check=list(HealthCheck)
)
JSON = {"Content-Type": "application/json"}


def outcome(form, key: str, doc: object) -> tuple:
    try:
        return ("ok", form.parse(key, doc).to_json())
    except form.ParseError as error:
        return ("error", error.status, error.code, error.message)


def check_parse(key: str, doc: object) -> None:
    """Both forms parse the document as the interpreter does."""
    expected = expected_parse(key, doc)
    for form in FORMS.values():
        assert outcome(form, key, doc) == expected


def check_handle(form, key: str, body: bytes, expected: tuple) -> None:
    """handle() answers as the interpreter does: status, and the error for plain bodies."""
    status, headers, payload = form.handle(key, body)
    if expected[0] == "ok":
        success = (200, JSON) if templated(key) else (204, {})
        assert (status, headers) == success
    else:
        assert (status, headers) == (expected[1], JSON)
    if templated(key) or expected[0] == "error":
        answer = json.loads(payload)  # always JSON: the template's or the error's
    else:
        assert payload == b""
    if expected[0] == "error" and not templated(key):
        assert answer == {"code": expected[2], "message": expected[3]}


# --- the corpus: the same cases here, under PyPy and under Pyodide


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("integration", sorted(by_integration(corpus())))
def test_corpus_agrees_with_the_interpreter(form, integration):
    module = FORMS[form]
    for case in by_integration(corpus())[integration]:
        key, body = case["key"], body_of(case)
        if "doc" in case:
            assert outcome(module, key, case["doc"]) == expected_parse(key, case["doc"])
        check_handle(module, key, body, expected_bytes(key, body))


def test_corpus_reaches_every_integration_mode_and_error():
    """Coverage, so that a runtime passing the corpus has run every path that matters."""
    answers = [
        expected_parse(c["key"], c["doc"]) if "doc" in c else expected_bytes(
            c["key"], body_of(c)
        )
        for c in corpus()
    ]  # fmt: skip
    runtime = (ROOT / "generated" / "_runtime.py").read_text("utf-8")
    codes = set(re.findall(r'ParseError\(\s*\d+,\s*"([a-z_]+)"', runtime))
    assert {a[2] for a in answers if a[0] == "error"} == codes - {"internal_error"}
    grouped = by_integration(corpus())
    assert set(grouped) == set(MANIFESTS) | {"(unknown key)"}
    for key in MANIFESTS:
        kinds = {
            expected_parse(c["key"], c["doc"])[0] for c in grouped[key] if "doc" in c
        }
        assert kinds == {"ok", "error"}, key
    overrides = [k for k in MANIFESTS if "cohortIdPath" in member_parser(k)]
    assert overrides, "no manifest with per-member cohort overrides"
    for key in overrides:  # some requests change more than one segment
        assert any(
            len(expected_parse(c["key"], c["doc"])[1]["changes"]) > 1
            for c in grouped[key]
            if "doc" in c and expected_parse(c["key"], c["doc"])[0] == "ok"
        ), key
    modes = {
        re.search(r"requests \((\w+) membership\)", module_text(k))[1]
        for k in MANIFESTS
    }
    assert modes == {"boolean", "action", "named"}
    assert any(templated(key) for key in MANIFESTS)


def member_parser(key: str) -> dict:
    synced = MANIFESTS[key]["capabilities"]["syncedSegment"]
    return synced["requestParser"]["memberArrayParser"]


def module_text(key: str) -> str:
    module = generated.INTEGRATIONS[key]
    return (ROOT / "generated" / f"{module}.py").read_text("utf-8")


# --- properties: new bodies on every run


@pytest.mark.parametrize("key", sorted(MANIFESTS))
def test_generated_parser_agrees_with_the_interpreter(key):
    @EXAMPLES
    @given(doc=bodies(MANIFESTS[key]))
    def agree(doc):
        check_parse(key, doc)

    agree()


@pytest.mark.parametrize("key", sorted(MANIFESTS))
def test_handle_answers_every_body(key):
    @EXAMPLES
    @given(doc=bodies(MANIFESTS[key]) | VALUES, raw=st.binary(max_size=30))
    def answer(doc, raw):
        for body in (json.dumps(doc).encode(), raw):
            expected = expected_bytes(key, body)
            for form in FORMS.values():
                check_handle(form, key, body, expected)

    answer()


# --- the runtime's own portability helpers


def nesting(data: bytes) -> int:
    """Deepest nesting of JSON text, character by character (strings skipped)."""
    deepest = depth = 0
    in_string = escaped = False
    for char in data.decode("utf-8", "replace"):
        if in_string:
            escaped, in_string = (
                (False, True) if escaped else (char == "\\", char != '"')
            )
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


JSON_TEXT = st.recursive(
    st.none() | st.text(alphabet='[]{}"\\ab', max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(alphabet='[{"\\', max_size=2), inner, max_size=2
    ),
    max_leaves=12,
).map(json.dumps)  # fmt: skip


@pytest.mark.parametrize("form", sorted(FORMS))
@settings(max_examples=200, deadline=None)
@given(text=JSON_TEXT, limit=st.integers(0, 6))
def test_depth_guard_counts_nesting_and_skips_strings(form, text, limit):
    """What Pyodide measures before json.loads: exact on JSON, brackets in strings aside."""
    runtime = FORMS[form]._runtime
    data = text.encode()
    assert runtime.nested_deeper_than(data, limit) == (nesting(data) > limit)


def test_depth_guard_on_hostile_nesting():
    runtime = generated._runtime
    assert runtime.nested_deeper_than(b"[" * 1001, 1000)
    assert not runtime.nested_deeper_than(b"[" * 1000, 1000)
    assert not runtime.nested_deeper_than(b'"' + b"[" * 5000, 1000)  # unterminated
    assert runtime.nested_deeper_than(b'"\\\\"' + b"{" * 1001, 1000)  # an escaped \\


def test_runs_on(record_property):
    """Which Python ran this tier, for the log."""
    record_property("implementation", platform.python_implementation())
    for form in FORMS.values():
        assert form.handle("nope", b"{}")[0] == 404
    with pytest.raises(InterpreterError):
        interpret_bytes("amplitude", MANIFESTS["amplitude"], b"[]")
