"""With orjson installed the runtime decodes with it, with the standard decoder's results.

Every case is handled twice, with orjson and with json alone, and must answer the same.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import test_differential as differential
from tests import test_runtime as runtime_tests
from tests.conftest import ROOT, SHIPPED, manifests_in

orjson = pytest.importorskip("orjson")
MANIFESTS = manifests_in(SHIPPED)

BIG = 2**64 + 1  # beyond 64 bits: orjson reads it as a float, json exactly
AMPLITUDE = {
    "environmentId": "e",
    "batch": [{"userId": "u", "cohortId": "c", "cohortName": "n", "value": True}],
}


def outcome(package, key: str, body: bytes) -> tuple:
    """The HTTP answer and the parsed result (or error) of one body."""
    parse = package.module_for(key).parse
    result = package.read_request(parse, body)[1]
    if isinstance(result, package.ParseError):
        parsed = (result.status, result.code, result.message)
    else:
        parsed = result.to_json()
    return package.handle(key, body), parsed


def both(package, key: str, body: bytes, monkeypatch) -> tuple:
    """(outcome with orjson, outcome with json alone)."""
    with_orjson = outcome(package, key, body)
    with monkeypatch.context() as patch:
        patch.setattr(package._runtime, "_orjson", None)
        without = outcome(package, key, body)
    return with_orjson, without


def test_the_runtime_found_orjson(shipped):
    assert shipped._runtime._orjson is orjson


# Whether the runtime takes an orjson of this version, in a fresh interpreter.
TAKES_ORJSON = """
import sys, types
sys.modules["orjson"] = types.SimpleNamespace(__version__=sys.argv[1])
from generated import _runtime
print(_runtime._orjson is not None)
"""


@pytest.mark.parametrize(
    "version, taken",
    [("3.8.3", False), ("3.9.14", False), ("3.9.15", True), ("3.11.0rc1", True)],
)
def test_an_orjson_that_crashes_on_deep_bodies_is_not_used(version, taken):
    """orjson < 3.9.15 segfaults on a body nested 100,000 deep (tried by hand: 3.8.3,
    3.8.14 and nine releases from 3.9.0 to 3.9.14 crash; 3.9.15, 3.10 and 3.13 refuse
    it): the runtime must leave such an orjson alone."""
    result = subprocess.run(
        [sys.executable, "-c", TAKES_ORJSON, version],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == str(taken)


def member(**fields) -> bytes:
    """A body whose second member carries these fields (the first names the cohort)."""
    first = AMPLITUDE["batch"][0]
    batch = [first, {**first, "userId": "u2", **fields}]
    return json.dumps(dict(AMPLITUDE, batch=batch)).encode()


CASES = {
    "valid": json.dumps(AMPLITUDE).encode(),
    "NaN": b'{"environmentId": NaN}',
    "Infinity": member(value=True).replace(b'"e"', b"Infinity"),
    "-Infinity": b'{"a": -Infinity}',
    "duplicate keys, last wins": member().replace(
        b'{"environmentId": "e"', b'{"environmentId": "first", "environmentId": "e"'
    ),
    "big integer id": member(userId=BIG),
    "big integer cohort override": member(cohortId=BIG),
    "big negative override": member(cohortId=-BIG),
    "float override": member(cohortId=1e19),
    "exact 64-bit override": member(cohortId=2**63 - 1),
    "1e400": member(userId=1).replace(b"1,", b"1e400,"),
    "-0": member(userId=1).replace(b'"userId": 1', b'"userId": -0'),
    "BOM": b"\xef\xbb\xbf" + json.dumps(AMPLITUDE).encode(),
    "two BOMs": b"\xef\xbb\xbf\xef\xbb\xbf" + json.dumps(AMPLITUDE).encode(),
    "invalid UTF-8": b'{"environmentId": "\xff"}',
    "lone surrogate": b'{"environmentId": "\\ud800"}',
    "surrogate pair": member(userId="\U0001f600"),
    "control character": b'{"environmentId": "a\x01"}',
    "deep 64": b'{"x":' + b"[" * 64 + b"]" * 64 + b"}",
    "deep 100000": b"[" * 100_000 + b"]" * 100_000,
    "not an object": b"[1]",
    "empty": b"",
    "trailing data": json.dumps(AMPLITUDE).encode() + b" 1",
    "huge integer": b'{"environmentId": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_both_decoders_answer_alike(shipped, monkeypatch, case):
    with_orjson, without = both(shipped, "amplitude", CASES[case], monkeypatch)
    assert with_orjson == without


def test_a_big_override_names_its_own_cohort_exactly(shipped):
    status, _, _ = shipped.handle("amplitude", CASES["big integer cohort override"])
    assert status == 204
    doc = json.loads(CASES["big integer cohort override"])
    changes = shipped.parse("amplitude", doc).changes
    assert [c.cohort_id for c in changes] == ["c", str(BIG)]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["userId", "cohortId", "value", "x"]), inner,
                      max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    members=st.lists(JSON, max_size=4),
    key=st.sampled_from(
        ["amplitude", "heap-inbound", "hightouch", "example-named-arrays"]
    ),
)
def test_generated_bodies_answer_alike(shipped, members, key):
    body = json.dumps(dict(AMPLITUDE, batch=members, members=members)).encode()
    with_orjson = outcome(shipped, key, body)
    saved, shipped._runtime._orjson = shipped._runtime._orjson, None
    try:
        assert outcome(shipped, key, body) == with_orjson
    finally:
        shipped._runtime._orjson = saved


# --- one answer per body, over the fuzzers' corpora ------------------------------------

AGREE = settings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck)
)
KEYS = sorted(manifests_in(SHIPPED))


def answers(package, key: str, body: bytes) -> list:
    """The outcome of one body with orjson, past the size switch, and with json alone."""
    runtime = package._runtime
    results = [outcome(package, key, body)]
    saved = runtime.ORJSON_MAX_BODY, runtime._orjson
    try:
        runtime.ORJSON_MAX_BODY = len(body) - 1  # the same body, one byte over it
        results.append(outcome(package, key, body))
        runtime.ORJSON_MAX_BODY, runtime._orjson = saved[0], None
        results.append(outcome(package, key, body))
    finally:
        runtime.ORJSON_MAX_BODY, runtime._orjson = saved
    return results


@pytest.mark.parametrize("key", KEYS)
def test_differential_corpus_answers_alike(shipped, key, record_property):
    """The differential tests' bodies, valid and broken, for every shipped manifest."""
    examples = []

    @AGREE
    @given(doc=differential.bodies(MANIFESTS[key]), ascii_only=st.booleans())
    def agree(doc, ascii_only):
        body = json.dumps(doc, ensure_ascii=ascii_only).encode("utf-8")
        first, *others = answers(shipped, key, body)
        assert others == [first, first]
        examples.append(1)

    agree()
    record_property("examples", len(examples))


@AGREE
@given(
    doc=runtime_tests.JSON_VALUES, pick=st.integers(0, len(KEYS) - 1), mix=st.booleans()
)
def test_runtime_fuzz_corpus_answers_alike(shipped, doc, pick, mix):
    """The runtime fuzzer's arbitrary JSON, alone or grafted onto a valid body."""
    body = dict(AMPLITUDE, batch=[doc, *AMPLITUDE["batch"]]) if mix else doc
    first, *others = answers(shipped, KEYS[pick], json.dumps(body).encode())
    assert others == [first, first]


# Integers around and beyond 64 bits, where orjson turns to floats (or refuses).
BIG_INTEGERS = st.one_of(
    st.sampled_from(
        [2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**64 + 1, -(2**63), -(2**63) - 1]
        + [-(2**64), 10**19, 10**20, 2**100, -(2**100), 10**300, 10**400]
    ),
    st.integers(2**63, 2**400),
    st.integers(-(2**400), -(2**63)),
)
ID_LIKE = ("environmentIdPath", "cohortIdPath", "cohortNamePath")
MEMBER_ID_LIKE = ("memberIdPath", "cohortIdPath", "cohortNamePath")


@st.composite
def big_integer_bodies(draw, manifest: dict) -> dict:
    """A differential body with a big integer at some id-like pointers, members too."""
    parser = manifest["capabilities"]["syncedSegment"]["requestParser"]
    doc = draw(differential.bodies(manifest))
    for name in ID_LIKE:
        if draw(st.booleans()):
            differential.put(doc, parser[name], draw(BIG_INTEGERS))
    member_parser = parser["memberArrayParser"]
    for name in ("memberArrayPath", "addMemberArrayPath", "removeMemberArrayPath"):
        members = differential.resolve(doc, parser.get(name))
        for member in members if isinstance(members, list) else []:
            for field in MEMBER_ID_LIKE:
                if (
                    field in member_parser
                    and isinstance(member, dict)
                    and draw(st.booleans())
                ):
                    differential.put(member, member_parser[field], draw(BIG_INTEGERS))
    return doc


@pytest.mark.parametrize("key", KEYS)
def test_big_integers_in_id_like_places_answer_alike(shipped, key):
    @AGREE
    @given(doc=big_integer_bodies(MANIFESTS[key]))
    def agree(doc):
        first, *others = answers(shipped, key, json.dumps(doc).encode())
        assert others == [first, first]

    agree()


def test_a_big_per_member_cohort_name_is_that_cohorts_name(shipped):
    """The cohortName override of a new cohort, an integer beyond 64 bits, on orjson too."""
    body = member(cohortId="other", cohortName=BIG)
    changes = shipped.read_request(shipped.module_for("amplitude").parse, body)[1]
    assert [c.cohort_name for c in changes.changes] == ["n", str(BIG)]
    first, *others = answers(shipped, "amplitude", body)
    assert others == [first, first]


def deep_body(depth: int, kind: str) -> bytes:
    # json.dumps recurses as deep as the value: build the text around a marker
    text = json.dumps(dict(AMPLITUDE, extra="MARK"))
    opener, closer = ("[", "]") if kind == "array" else ('{"x": ', "}")
    return text.replace('"MARK"', opener * depth + '"leaf"' + closer * depth).encode()


DEPTHS = [60, 64, 65, 100, 500, 900, 980, 990, 1000, 1010, 1023, 1024, 1025, 1030, 1100]


@pytest.mark.parametrize("kind", ["array", "object"])
def test_nesting_gets_one_answer_on_both_sides_of_the_size_switch(shipped, kind):
    statuses = {}
    for depth in DEPTHS:
        body = deep_body(depth, kind)
        first, *others = answers(shipped, "amplitude", body)
        assert others == [first, first], depth
        # and from deep in the caller's stack, where json has less room to recurse
        assert called_from_depth(400, outcome, shipped, "amplitude", body) == first
        statuses[depth] = first[0][0]
    # the body's own object is one level more
    expected = {d: 204 if d + 1 <= shipped._runtime.MAX_DEPTH else 400 for d in DEPTHS}
    assert statuses == expected


def called_from_depth(frames: int, function, *args):
    if frames:
        return called_from_depth(frames - 1, function, *args)
    return function(*args)


NESTED = st.recursive(
    st.none()
    | st.integers()
    | st.text(alphabet='[]{}"\\ab\u00e9\U0001f600', max_size=5),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=3), inner, max_size=3),
    max_leaves=30,
)


def depth_of(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(value=NESTED, ascii_only=st.booleans(), slack=st.integers(-2, 1))
def test_the_nesting_count_of_refused_deep_bodies_is_exact(
    shipped, value, ascii_only, slack
):
    """What decides too_deep once json ran out of room: brackets in strings do not count."""
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    limit = max(0, depth_of(value) + slack)
    deeper = shipped._runtime.nested_deeper_than(body, limit)
    assert deeper == (depth_of(value) > limit)


@pytest.mark.parametrize(
    ("escape", "status"),
    [("\\ud800", 400), ("\\ud83d\\ude00", 204), ("\\\\ud800", 204)],
)
def test_surrogate_escapes_deeper_than_the_encoder_reaches(shipped, escape, status):
    """Where json.dumps runs out of room, the text itself says whether one is unpaired."""
    body = deep_body(1000, "array").replace(b'"leaf"', f'"{escape}"'.encode())
    first, *others = answers(shipped, "amplitude", body)
    assert others == [first, first]
    assert first[0][0] == status
    if status == 400:
        assert first[1][1:] == ("invalid_json", "request body contains an unpaired "
                                "surrogate escape")  # fmt: skip
