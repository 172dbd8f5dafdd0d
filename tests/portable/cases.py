"""The portable tier's cases: one corpus of request bodies for every runtime and both forms.

Bodies are drawn from the strategies below (those of the property tests in
test_portable.py) with a fixed seed, then completed until every integration has bodies
it accepts (and requests that change several segments, where members may override the
cohort), and by bodies that reach every body-level error (too deep, not UTF-8, NaN, an
unpaired surrogate, an integer of 5000 digits, ...) and unknown and differently cased
keys. Answers are never written down: the reference interpreter gives them wherever the
corpus is used.

Seeded draws repeat, but Hypothesis also mixes in constants from the project's modules
that are loaded at the time, so a draw in another process may differ. That is why a full
`./dev test` writes the corpus to a file first, once, under CPython (`python -m
tests.portable.cases FILE`), and every tier reads that file (PORTABLE_CORPUS=FILE): the
CPython run of this folder, the PyPy tier and the Pyodide tier run exactly the same data.

A case is {"key": KEY, "doc": JSON} (parse the document; handle its json.dumps) or
{"key": KEY, "body": BASE64} (handle these bytes).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from copy import copy
from functools import lru_cache
from pathlib import Path
from typing import Dict, List

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.reference_interpreter import (  # noqa: E402
    InterpreterError,
    interpret,
    interpret_bytes,
)

CORPUS_ENV = (
    "PORTABLE_CORPUS"  # a corpus file written by `python -m tests.portable.cases`
)
MANIFESTS = {
    path.parent.name: json.loads(path.read_text("utf-8"))
    for path in sorted((ROOT / "manifests").glob("*/manifest.json"))
}
BODIES_PER_KEY = 50  # drawn from bodies(manifest)
VALUES_PER_KEY = 15  # any JSON value as the whole body
RAW_PER_KEY = 15  # random bytes
MIN_ACCEPTED = 3  # bodies per integration that it accepts
SEED = 20_251_201  # any fixed number
DEEP = (
    5_000  # levels: far past every runtime's limit (Pyodide's C stack ends near 4,000)
)
# An array 500 levels deep, as a template prints it (Array.prototype.toString): past
# what a printer that recurses survives (400 levels on CPython, 300 under Pyodide,
# where it is fatal), and within the reference interpreter's json under pytest on
# every runtime (PyPy's refused 800 there, where the runtime decodes up to 1,024).
DEEP_ARRAY = '["a",' * 500 + '"x"' + ',[],"b",null,1.5,[[]]]' * 500

IDS = st.one_of(
    # copied: sampled_from gives the same [] and {} every time, and put() writes into
    # the objects it walks through, which could tie a body into a circle
    st.sampled_from(["u1", "u2", "c1", 7, "7", "", None, 1.5, True, [], {}]).map(copy),
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
    """Place value at a simple pointer, making objects on the way (an array for /0/)."""
    tokens = pointer.split("/")[1:]
    node, index = doc, 0
    while index < len(tokens) - 1:
        token, following = tokens[index], tokens[index + 1]
        child = node.get(token)
        if not isinstance(child, (dict, list)):
            child = node[token] = [{}] if following == "0" else {}
        if isinstance(child, dict):
            node, index = child, index + 1
        elif following == "0" and child and isinstance(child[0], dict):
            node, index = child[0], index + 2
        else:
            return  # cannot be placed: the parsers see no value there
    if index == len(tokens) - 1:
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


# --- the oracle: the reference interpreter, behind the package's key lookup


def folder_of(key: str):
    """The integration a key names (ASCII case ignored, as SPEC says), or None."""
    folded = key.lower() if key.isascii() else key
    return folded if folded in MANIFESTS else None


def unknown(key: str) -> tuple:
    return (
        "error",
        404,
        "unknown_integration",
        "no integration with key " + json.dumps(key),
    )


def expected_parse(key: str, doc: object) -> tuple:
    """("ok", to_json) or ("error", status, code, message), from the interpreter."""
    return oracle(key, lambda folder: interpret(folder, MANIFESTS[folder], doc))


def expected_bytes(key: str, body: bytes) -> tuple:
    """The same for raw bytes: body decoding too."""
    return oracle(key, lambda folder: interpret_bytes(folder, MANIFESTS[folder], body))


def oracle(key: str, run) -> tuple:
    folder = folder_of(key)
    if folder is None:
        return unknown(key)
    try:
        return ("ok", run(folder))
    except InterpreterError as error:
        return ("error", error.status, error.code, error.message)


def templated(key: str) -> bool:
    folder = folder_of(key)
    return folder is not None and "jsonResponseBody" in synced(folder)


def synced(folder: str) -> dict:
    return MANIFESTS[folder]["capabilities"]["syncedSegment"]


def body_of(case: dict) -> bytes:
    """The bytes a case sends to handle()."""
    if "body" in case:
        return base64.b64decode(case["body"])
    return json.dumps(case["doc"]).encode()


# --- the corpus


def draw_examples(strategy: st.SearchStrategy, count: int) -> list:
    """count examples of a strategy, drawn from a fixed seed."""
    found: list = []

    @seed(SEED)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value):
        found.append(value)

    collect()
    return found


def crafted(valid: dict) -> List[bytes]:
    """Bodies for every body-level answer, around a body the integration accepts."""
    text = json.dumps(valid).encode()
    brackets = b'\\"[{' * 1000  # in a string, escaped quotes between: no nesting
    return [
        b"\xef\xbb\xbf" + text,  # a BOM is skipped
        b"\xff" + text,  # not UTF-8
        b"",
        b'{"a": NaN}',
        text[:-1] + b', "pad": "\\ud800"}',  # an unpaired surrogate escape
        text[:-1] + b', "pad": ' + b"9" * 5000 + b"}",
        b"[" * DEEP + b"]" * DEEP,
        b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        text[:-1] + b', "pad": ' + b"[" * 64 + b"]" * 64 + b"}",  # 64 deep always parse
        text[:-1] + b', "pad": "' + brackets + b'"}',
        b"[]",
        text + b" x",
    ]


def deep_array_in(key: str, valid: dict) -> bytes:
    """valid with DEEP_ARRAY as its environment id, which templates often print."""
    doc = json.loads(json.dumps(valid))
    put(doc, synced(key)["requestParser"]["environmentIdPath"], "\0deep")
    return json.dumps(doc).replace('"\\u0000deep"', DEEP_ARRAY).encode()


def goals(key: str) -> list:
    """(predicate, how many) of the bodies an integration's cases must hold."""

    def accepted(doc: dict) -> bool:
        return expected_parse(key, doc)[0] == "ok"

    def several_segments(doc: dict) -> bool:  # per-member cohort overrides at work
        answer = expected_parse(key, doc)
        return answer[0] == "ok" and len(answer[1]["changes"]) > 1

    member_parser = synced(key)["requestParser"]["memberArrayParser"]
    overrides = "cohortIdPath" in member_parser
    return [(accepted, MIN_ACCEPTED)] + ([(several_segments, 1)] if overrides else [])


@lru_cache(maxsize=1)
def generate() -> tuple:
    """The corpus, drawn here."""
    cases: List[dict] = []
    for key in sorted(MANIFESTS):
        docs = draw_examples(bodies(MANIFESTS[key]), BODIES_PER_KEY)
        more: list = []
        for wanted, count in goals(key):  # a strict manifest: look further for some
            missing = count - sum(map(wanted, docs))
            if missing > 0:
                more = more or draw_examples(bodies(MANIFESTS[key]), 6 * BODIES_PER_KEY)
                docs += [doc for doc in more[BODIES_PER_KEY:] if wanted(doc)][:missing]
        valid = next(doc for doc in docs if expected_parse(key, doc)[0] == "ok")
        docs += draw_examples(VALUES, VALUES_PER_KEY)
        cases += [{"key": key, "doc": doc} for doc in docs]
        raw = draw_examples(st.binary(max_size=30), RAW_PER_KEY)
        raw += crafted(valid)
        raw.append(deep_array_in(key, valid))
        cases += [{"key": key, "body": base64.b64encode(b).decode()} for b in raw]
        cases.append({"key": key.upper(), "doc": valid})  # keys ignore ASCII case
    cases.append({"key": "nope", "doc": {}})
    cases.append({"key": "amplitud\u00e9", "doc": {}})  # no Unicode case folding
    return tuple(cases)


@lru_cache(maxsize=1)
def corpus() -> tuple:
    """The corpus from the file PORTABLE_CORPUS names, or else generated here."""
    path = os.environ.get(CORPUS_ENV)
    if path:
        return tuple(json.loads(Path(path).read_text("utf-8"))["cases"])
    return generate()


def by_integration(cases: tuple) -> Dict[str, list]:
    """Cases per integration, whatever case their key is in; unknown keys apart."""
    grouped: Dict[str, list] = {}
    for case in cases:
        grouped.setdefault(folder_of(case["key"]) or "(unknown key)", []).append(case)
    return grouped


def digest(cases: tuple) -> str:
    return hashlib.sha256(json.dumps(list(cases), sort_keys=True).encode()).hexdigest()


def main(argv: List[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.portable.cases FILE", file=sys.stderr)
        return 2
    cases = generate()
    Path(argv[0]).write_text(json.dumps({"cases": list(cases)}), encoding="utf-8")
    print(
        f"portable corpus: {len(cases)} cases, sha256 {digest(cases)[:16]}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
