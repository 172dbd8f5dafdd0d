"""The generated runtime: body decoding, statuses, dispatch, and never a 500 or a raise."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import jsregex

AMPLITUDE = {
    "environmentId": "e",
    "batch": [{"userId": "u", "cohortId": "c", "cohortName": "n", "value": True}],
}
GOOD = json.dumps(AMPLITUDE).encode()


def error_of(package, body: bytes, key: str = "amplitude") -> tuple:
    status, headers, payload = package.handle(key, body)
    assert headers == {"Content-Type": "application/json"}
    return status, json.loads(payload)


def test_success_is_204_with_empty_body(shipped):
    assert shipped.handle("amplitude", GOOD) == (204, {}, b"")


def test_keys_ignore_ascii_case_but_segment_keys_keep_the_folder_name(shipped):
    assert shipped.handle("AmPlItUdE", GOOD)[0] == 204
    result = shipped.parse("AMPLITUDE", AMPLITUDE)
    assert result.segment_key(result.changes[0]) == "amplitude-c"


def test_unknown_key_is_404_even_for_a_bad_body(shipped):
    assert error_of(shipped, b"not json", "nope") == (
        404,
        {"code": "unknown_integration", "message": 'no integration with key "nope"'},
    )
    # the Kelvin sign lower-cases to "k": no Unicode case folding into a real key
    assert error_of(shipped, GOOD, "rudderstac\u212a")[0] == 404


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"\xff" + GOOD, "invalid_encoding", "request body is not valid UTF-8"),
        (b"", "invalid_json", "request body is not valid JSON"),
        (b'{"a": NaN}', "invalid_json", "request body is not valid JSON"),
        (b'{"a": -Infinity}', "invalid_json", "request body is not valid JSON"),
        (GOOD + b" x", "invalid_json", "request body is not valid JSON"),
        (b"\xef\xbb\xbf\xef\xbb\xbf{}", "invalid_json", "request body is not valid JSON"),
        (b'{"a": "\\ud800"}', "invalid_json",
         "request body contains an unpaired surrogate escape"),
        (b'{"\\udc00": 1}', "invalid_json",
         "request body contains an unpaired surrogate escape"),
        (b'{"a": ' + b"9" * 5000 + b"}", "invalid_json",
         "request body has an integer of more than 4300 digits"),
        (b"[" * 100_000 + b"]" * 100_000, "too_deep", "request body is nested too deeply"),
        (b"[]", "not_an_object", "request body must be a JSON object"),
    ],
)  # fmt: skip
def test_body_level_errors_are_400(shipped, body, code, message):
    assert error_of(shipped, body) == (400, {"code": code, "message": message})


def test_bom_is_skipped_and_surrogate_pairs_are_fine(shipped):
    assert shipped.handle("amplitude", b"\xef\xbb\xbf" + GOOD)[0] == 204
    body = dict(AMPLITUDE, environmentId="\U0001f600")
    escaped = json.dumps(body, ensure_ascii=True).encode()
    assert b"\\ud83d\\ude00" in escaped
    assert shipped.handle("amplitude", escaped)[0] == 204


def test_bodies_nested_64_deep_always_parse(shipped):
    deep: object = "leaf"
    for _ in range(64):
        deep = {"x": [deep]}
    body = json.dumps(dict(AMPLITUDE, extra=deep)).encode()
    assert shipped.handle("amplitude", body)[0] == 204


def test_duplicate_keys_last_one_wins(shipped):
    body = GOOD.replace(
        b'{"environmentId": "e"', b'{"environmentId": "a", "environmentId": "second"'
    )
    result = shipped.parse("amplitude", json.loads(body))
    assert result.environment_id == "second"


def test_integers_become_exact_decimal_strings(shipped):
    body = b'{"environmentId": -0, "batch": [{"userId": 12345678901234567890123,'
    body += b' "cohortId": 9007199254740993, "cohortName": "n", "value": true}]}'
    result = shipped.parse("amplitude", json.loads(body))
    assert result.environment_id == "0"
    assert result.changes[0].cohort_id == "9007199254740993"
    assert result.changes[0].added == ("12345678901234567890123",)
    for float_like in (b"42.0", b"4.2e1", b"true"):
        refused = shipped.handle("amplitude", body.replace(b"-0", float_like))
        assert refused[0] == 400


def test_an_internal_error_is_a_500_not_a_raise(shipped, monkeypatch):
    def broken(doc):
        raise KeyError("bug")

    monkeypatch.setitem(shipped._loaded, "amplitude", broken)
    status, _, payload = shipped.handle("amplitude", GOOD)
    assert (status, json.loads(payload)["code"]) == (500, "internal_error")


def test_to_json_shape(shipped):
    result = shipped.parse("amplitude", AMPLITUDE)
    assert list(result.to_json()) == ["environmentId", "contextKind", "changes"]
    assert list(result.to_json()["changes"][0]) == [
        "segmentKey",
        "cohortId",
        "cohortName",
        "cohortUrl",
        "added",
        "removed",
    ]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip
FUZZ = settings(
    max_examples=400, deadline=None, suppress_health_check=list(HealthCheck)
)


@FUZZ
@given(body=st.binary(max_size=200))
def test_random_bytes_never_500_or_raise(shipped, body):
    for key in shipped.INTEGRATIONS:
        status, _, _ = shipped.handle(key, body)
        assert status in (204, 400)


@FUZZ
@given(doc=JSON_VALUES, pick=st.integers(0, 10), mix=st.booleans())
def test_random_json_never_500_or_raise(shipped, doc, pick, mix):
    """Arbitrary JSON, alone or grafted onto a valid body, never breaks a parser."""
    keys = sorted(shipped.INTEGRATIONS)
    body = dict(AMPLITUDE, batch=[doc, *AMPLITUDE["batch"]]) if mix else doc
    status, _, _ = shipped.handle(keys[pick], json.dumps(body).encode())
    assert status in (204, 400)


@given(st.text())
def test_runtime_code_units_match_the_compilers(shipped, value):
    assert shipped._runtime.to_code_units(value) == jsregex.to_code_units(value)
