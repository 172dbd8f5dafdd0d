"""The playground's JSON API in-process (no server, no browser): what the page is shown.

The oracles: `python -m compiler try`'s core for what a body gives, the committed
generated/ for what black makes of the module, and the manifest text itself (searched
by the test) for positions and quick-fix ranges.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.naming import module_name
from compiler.playground import api
from compiler.trial import try_manifest

from .helpers import MANIFESTS, ROOT

BAD = ROOT / "tests" / "bad_manifests"
HIGHTOUCH = (MANIFESTS / "hightouch" / "manifest.json").read_text(encoding="utf-8")
HIGHTOUCH_ADD = (MANIFESTS / "hightouch" / "examples" / "add.json").read_text()


def ask(**request) -> api.Answer:
    answer = api.answer_try(json.dumps(request).encode())
    json.dumps(answer.document, allow_nan=False)  # what the browser's JSON.parse reads
    return answer


def offset(text: str, line: int, column: int) -> int:
    """The index in text of a 1-based line and code-point column."""
    lines = text.split("\n")
    return sum(len(x) + 1 for x in lines[: line - 1]) + column - 1


def shipped_examples() -> list:
    return [
        pytest.param(folder.name, example, id=f"{folder.name}/{example.name}")
        for folder in sorted(MANIFESTS.iterdir())
        for example in sorted((folder / "examples").glob("*.json"))
    ]


@pytest.mark.parametrize(("key", "example"), shipped_examples())
def test_shipped_manifest_and_example_give_what_try_gives(key: str, example: Path):
    manifest = (MANIFESTS / key / "manifest.json").read_text(encoding="utf-8")
    body = example.read_text(encoding="utf-8")
    answer = ask(key=key, manifest=manifest, body=body)
    expected = try_manifest(key, manifest, {"body": body}, "manifest.json",
                            formatter=api.identity)  # fmt: skip
    assert answer.status == 200
    document = answer.document
    assert document["diagnostics"] == []  # the shipped manifests are clean
    assert document["module"] == expected.module != ""
    (run,) = expected.bodies
    response = document["response"]
    assert response["status"] == run.status and response["status"] in (200, 204)
    assert response["headers"] == run.headers
    assert response["body"] == run.body.decode("utf-8")
    assert response["result"] == run.result and response["result"]["changes"]
    assert response["error"] is None
    assert document["formatted"] is False and document["milliseconds"] > 0


def test_black_gives_the_module_that_build_commits():
    answer = ask(key="hightouch", manifest=HIGHTOUCH, body=HIGHTOUCH_ADD, black=True)
    committed = (ROOT / "generated" / f"{module_name('hightouch')}.py").read_text()
    assert answer.document["formatted"] is True
    assert answer.document["module"] == committed
    unformatted = ask(key="hightouch", manifest=HIGHTOUCH, body=HIGHTOUCH_ADD)
    assert unformatted.document["module"] != committed


def test_a_regex_literal_is_placed_and_its_fix_range_fixes_it():
    manifest = HIGHTOUCH.replace('"^add$"', '"/^add$/i"')
    answer = ask(key="hightouch", manifest=manifest, body=HIGHTOUCH_ADD)
    (problem,) = answer.document["diagnostics"]
    assert (problem["code"], problem["level"]) == ("matcher-regex-literal", "warning")
    start = manifest.index('"/^add$/i"')
    assert offset(manifest, problem["line"], problem["column"]) == start
    assert offset(manifest, problem["end_line"], problem["end_column"]) == start + 10
    # the warning is right: the add became a removal
    change = answer.document["response"]["result"]["changes"][0]
    assert change["added"] == [] and change["removed"] == ["u1", "u2"]
    fixed = apply_fix(manifest, problem["fix_range"])
    assert '"matcher": "^[aA][dD][dD]$"' in fixed
    again = ask(key="hightouch", manifest=fixed, body=HIGHTOUCH_ADD).document
    assert again["diagnostics"] == []
    assert again["response"]["result"]["changes"][0]["added"] == ["u1", "u2"]


def apply_fix(text: str, fix: dict) -> str:
    start = offset(text, fix["line"], fix["column"])
    end = offset(text, fix["end_line"], fix["end_column"])
    assert text[start] == '"' and text[end - 1] == '"'  # a whole string value
    return text[:start] + fix["text"] + text[end:]


def fixtures_with_a_fix() -> list:
    """The bad-manifest fixtures about pointers and matchers, where fixes are offered."""
    folders = sorted(p for p in BAD.iterdir() if (p / "manifest.json").is_file())
    return [
        pytest.param(
            f.name, (f / "manifest.json").read_text(encoding="utf-8"), id=f.name
        )
        for f in folders
        if any(word in f.name for word in ("pointer", "matcher", "bracket", "dotted"))
    ]


@pytest.mark.parametrize(("key", "manifest"), fixtures_with_a_fix())
def test_every_quick_fix_removes_its_diagnostic(key: str, manifest: str):
    """Over the bad-manifest fixtures: applying a fix_range where the page would
    apply it clears that diagnostic."""
    diagnostics = ask(key=key, manifest=manifest).document["diagnostics"]
    fixable = [d for d in diagnostics if d["fix_range"] is not None]
    for d in fixable:
        fixed = apply_fix(manifest, d["fix_range"])
        assert json.loads(fixed)  # still JSON
        after = ask(key=key, manifest=fixed).document["diagnostics"]
        assert not [a for a in after
                    if (a["code"], a["pointer"]) == (d["code"], d["pointer"])], after  # fmt: skip
    assert all(d["replacement"] is None for d in diagnostics if d not in fixable)


def test_fixes_are_offered_on_the_fixtures_that_have_them():
    """The test above is not vacuous: JSONPath, dotted and regex-literal mistakes
    come with a fix range."""
    codes = set()
    for name in (
        "pointer-jsonpath",
        "pointer-dotted-path",
        "warn-matcher-regex-literal",
    ):
        text = (BAD / name / "manifest.json").read_text(encoding="utf-8")
        codes |= {d["code"] for d in ask(key=name, manifest=text).document["diagnostics"]
                  if d["fix_range"]}  # fmt: skip
    assert {"bad-pointer", "matcher-regex-literal"} <= codes


def test_a_template_that_fails_is_a_diagnostic_with_its_position():
    folder = BAD / "template-not-json"
    manifest = (folder / "manifest.json").read_text(encoding="utf-8")
    answer = ask(key="template-not-json", manifest=manifest, body="{}")
    assert answer.status == 200
    (problem,) = answer.document["diagnostics"]
    assert problem["code"] == "response-not-json" and problem["level"] == "error"
    expected = (folder / "expected.txt").read_text().split(": error:")[0]
    assert expected.endswith(f":{problem['line']}:{problem['column']}")
    assert answer.document["module"] == "" and answer.document["response"] is None
    assert answer.document["ok"] is False


def test_a_refused_body_is_the_400_and_its_message():
    body = HIGHTOUCH_ADD.replace('"cohortId"', '"cohort"')
    response = ask(key="hightouch", manifest=HIGHTOUCH, body=body).document["response"]
    message = 'cohortIdPath "/cohortId": no value in request body'
    assert response["status"] == 400 and response["reason"] == "Bad Request"
    assert json.loads(response["body"]) == {"code": "missing_value", "message": message}
    assert response["result"] is None
    assert response["error"] == f"400 missing_value: {message}"


def test_no_body_is_not_a_refusal_but_a_note():
    document = ask(key="hightouch", manifest=HIGHTOUCH, body="  \n").document
    assert document["response"] is None and document["module"]
    assert any("no request body" in n for n in document["notes"])


def test_a_body_that_is_not_utf8_is_refused_as_the_runtime_refuses_it():
    response = ask(key="hightouch", manifest=HIGHTOUCH, body="\ud800").document[
        "response"
    ]
    assert response["status"] == 400 and response["result"] is None


def test_json_nested_too_deep_is_invalid_json_or_a_400_not_a_crash():
    deep = "[" * 100_000 + "]" * 100_000
    (problem,) = ask(manifest=deep).document["diagnostics"]
    assert (
        problem["code"] == "invalid-json" and "nested too deeply" in problem["message"]
    )
    response = ask(key="hightouch", manifest=HIGHTOUCH, body=deep).document["response"]
    assert (
        response["status"] == 400 and json.loads(response["body"])["code"] == "too_deep"
    )


def test_a_bad_key_and_invalid_json_are_diagnostics():
    bad_key = ask(key="Not A Key", manifest=HIGHTOUCH).document["diagnostics"]
    assert [d["code"] for d in bad_key] == ["bad-integration-key"]
    broken = HIGHTOUCH.replace('"/action",', '"/action"')
    (problem,) = ask(key="hightouch", manifest=broken).document["diagnostics"]
    assert problem["code"] == "invalid-json"
    # json.loads stops where the comma is missing: at the next key
    assert broken.split("\n")[problem["line"] - 1].strip() == '"matcher": "^add$"'
    assert "Expecting ',' delimiter" in problem["message"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{", "the request is not JSON"),
        (b"\xff\xfe", "the request is not JSON"),
        (b"[]", "must be a JSON object"),
        (b"{}", 'the request has no "manifest"'),
        (b'{"manifest": 1}', '"manifest" must be a string, not 1'),
        (b'{"manifest": "{}", "body": {"a": 1}}', '"body" must be a string'),
        (b'{"manifest": "{}", "black": "yes"}', '"black" must be true or false'),
        (b'{"manifest": "{}", "key": null}', '"key" must be a string'),
    ],
)
def test_a_request_it_cannot_use_is_a_400_naming_why(raw: bytes, message: str):
    answer = api.answer_try(raw)
    assert answer.status == 400
    assert message in answer.document["error"]


def test_sizes_are_capped_and_the_cap_is_said():
    big_manifest = HIGHTOUCH + " " * api.MAX_MANIFEST
    answer = ask(manifest=big_manifest)
    assert answer.status == 413
    assert "the manifest is 257 KiB; the playground takes up to 256 KiB" in (
        answer.document["error"]
    )
    big_body = '{"members": [' + ",".join(['"u"'] * (api.MAX_BODY // 4 + 1)) + "]}"
    answer = ask(manifest=HIGHTOUCH, body=big_body)
    assert answer.status == 413
    assert "up to 1.0 MiB; try a bigger one with `python -m compiler try" in (
        answer.document["error"]
    )
    answer = api.answer_try(b" " * (api.MAX_REQUEST + 1))
    assert answer.status == 413 and "the limit is" in answer.document["error"]
    just_under = ask(manifest=HIGHTOUCH, body=" " * (api.MAX_BODY - 1))
    assert just_under.status == 200


def test_a_compiler_failure_is_shown_as_an_error_not_a_500(monkeypatch):
    def broken(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(api, "try_manifest", broken)
    answer = ask(manifest=HIGHTOUCH, body=HIGHTOUCH_ADD)
    assert answer.status == 200
    (problem,) = answer.document["diagnostics"]
    assert problem["code"] == "internal-error"
    assert (
        "RecursionError" in problem["message"] and "compiler bug" in problem["message"]
    )


def test_the_integrations_list_is_the_manifests_folder():
    listed = api.shipped(MANIFESTS)["integrations"]
    assert [i["key"] for i in listed] == sorted(
        p.parent.name for p in MANIFESTS.glob("*/manifest.json")
    )
    for integration in listed:
        folder = MANIFESTS / integration["key"]
        assert integration["manifest"] == (folder / "manifest.json").read_text()
        on_disk = sorted(p.name for p in (folder / "examples").glob("*.json"))
        assert [e["name"] for e in integration["examples"]] == on_disk != []
    assert api.shipped(None) == {"integrations": [], "folder": None}


# Edits a partner might make: a character inserted, deleted or replaced anywhere in a
# shipped manifest or body, or a request of arbitrary JSON.
EDIT = st.tuples(st.integers(0, len(HIGHTOUCH)), st.integers(0, 3), st.text(max_size=3))
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(
        st.sampled_from(["key", "manifest", "body", "black", "x"]), inner
    ),
    max_leaves=8,
)


def edited(text: str, edit: tuple[int, int, str]) -> str:
    at, cut, insert = edit
    return text[:at] + insert + text[at + cut :]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(manifest_edit=EDIT, body_edit=EDIT, black=st.booleans())
def test_any_edit_gets_an_answer_to_show(manifest_edit, body_edit, black):
    manifest = edited(HIGHTOUCH, manifest_edit)
    body = edited(HIGHTOUCH_ADD, body_edit)
    answer = ask(key="hightouch", manifest=manifest, body=body, black=black)
    assert answer.status == 200
    document = answer.document
    assert not [d for d in document["diagnostics"] if d["code"] == "internal-error"]
    if document["module"]:
        assert document["response"]["status"] in (200, 204, 400)


@settings(max_examples=100, deadline=None)
@given(request=ANY_JSON)
def test_any_request_is_answered_200_400_or_413(request):
    try:
        raw = json.dumps(request).encode()
    except ValueError:
        return
    answer = api.answer_try(raw)
    assert answer.status in (200, 400, 413)
    json.dumps(answer.document, allow_nan=False)
