"""The committed generated/ package agrees with the reference interpreter, on any Python."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import generated  # noqa: E402
from tests.reference_interpreter import (  # noqa: E402
    InterpreterError,
    interpret,
    interpret_bytes,
)

MANIFESTS = {
    key: json.loads((ROOT / "manifests" / key / "manifest.json").read_text("utf-8"))
    for key in sorted(generated.INTEGRATIONS)
}
EXAMPLES = settings(
    max_examples=150, deadline=None, suppress_health_check=list(HealthCheck)
)
IDS = st.one_of(
    st.sampled_from(["u1", "u2", "c1", 7, "7", "", None, 1.5, True, [], {}]),
    st.text(max_size=4),
    st.integers(-(2**70), 2**70),
)
VALUES = st.recursive(
    IDS | st.booleans(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=3),
    max_leaves=6,
)  # fmt: skip


def put(doc: dict, pointer: str, value: object) -> None:
    """Place value at a simple pointer, making objects on the way (arrays too for /0)."""
    tokens = pointer.split("/")[1:]
    node = doc
    for token, following in zip(tokens, tokens[1:]):
        child = node.get(token) if isinstance(node, dict) else None
        if not isinstance(child, (dict, list)):
            child = [{}] if following == "0" else {}
            node[token] = child
        node = child[0] if isinstance(child, list) and child else child
        if not isinstance(node, dict):
            return
    if tokens and isinstance(node, dict):
        node[tokens[-1]] = value


@st.composite
def bodies(draw, manifest: dict) -> dict:
    parser = manifest["capabilities"]["syncedSegment"]["requestParser"]
    member_parser = parser["memberArrayParser"]

    def member() -> object:
        if draw(st.integers(0, 9)) == 9:
            return draw(VALUES)
        fields: dict = {}
        for name, pointer in member_parser.items():
            put(fields, pointer, draw(st.booleans() if "boolean" in name else IDS))
        return fields

    doc: dict = {}
    for name in ("memberArrayPath", "addMemberArrayPath", "removeMemberArrayPath"):
        if name in parser:
            members = [member() for _ in range(draw(st.integers(0, 4)))]
            put(doc, parser[name], members if draw(st.integers(0, 9)) else draw(VALUES))
    for name in ("environmentIdPath", "cohortIdPath", "cohortNamePath"):
        put(doc, parser[name], draw(IDS) if draw(st.integers(0, 5)) == 0 else "x1")
    for name in ("contextKindPath", "cohortUrlPath"):
        if name in parser:
            put(doc, parser[name], draw(st.sampled_from(["org", None, 5, "a b", ""])))
    if "arrayInclusion" in parser:
        action = st.sampled_from(["add", "add_member", "members", "remove", 3, None])
        put(doc, parser["arrayInclusion"]["path"], draw(action))
    return doc


def outcome(key: str, doc: object) -> tuple:
    try:
        return ("ok", generated.parse(key, doc).to_json())
    except generated.ParseError as error:
        return ("error", error.status, error.code, error.message)


def expected(key: str, doc: object) -> tuple:
    try:
        return ("ok", interpret(key, MANIFESTS[key], doc))
    except InterpreterError as error:
        return ("error", error.status, error.code, error.message)


@pytest.mark.parametrize("key", sorted(MANIFESTS))
def test_generated_parser_agrees_with_the_interpreter(key):
    @EXAMPLES
    @given(doc=bodies(MANIFESTS[key]))
    def agree(doc):
        assert outcome(key, doc) == expected(key, doc)

    agree()


@pytest.mark.parametrize("key", sorted(MANIFESTS))
def test_handle_answers_every_body(key):
    templated = "jsonResponseBody" in MANIFESTS[key]["capabilities"]["syncedSegment"]

    @EXAMPLES
    @given(doc=bodies(MANIFESTS[key]) | VALUES, raw=st.binary(max_size=30))
    def answer(doc, raw):
        for body in (json.dumps(doc).encode(), raw):
            status, headers, payload = generated.handle(key, body)
            try:
                interpret_bytes(key, MANIFESTS[key], body)
            except InterpreterError as error:
                assert status == error.status
                json.loads(payload)  # error bodies are always JSON
            else:
                assert status == (200 if templated else 204)
                if templated:
                    json.loads(payload)

    answer()


def test_runs_on(record_property):
    """Which Python ran this tier, for the log."""
    record_property("implementation", platform.python_implementation())
    assert generated.handle("nope", b"{}")[0] == 404
