"""With orjson installed the runtime decodes with it, with the standard decoder's results.

Every case is handled twice, with orjson and with json alone, and must answer the same.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

orjson = pytest.importorskip("orjson")

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
