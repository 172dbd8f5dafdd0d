"""Bad manifests: each fixture breaks one rule; the build says exactly expected.txt."""

from __future__ import annotations

import difflib
import functools
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonpointer
import pytest

from compiler.build import build
from compiler.diagnostics import ERROR, WARNING
from compiler.naming import module_name
from tests.bad_manifests.regenerate import (
    CASES,
    COMMAND,
    EXPECTED,
    ROOT,
    build_case,
    case_names,
    render,
)

# The diagnostic codes of each case, in build order. This states each case's intent a
# second time, so that regenerating expected.txt over a broken rule cannot go unnoticed.
CODES = {
    # schema
    "unknown-property": ("unknown-property",),
    "unknown-property-typo-of-required": ("unknown-property", "missing-property"),
    "unknown-property-in-member-array-parser": ("unknown-property",),
    "unknown-property-in-array-inclusion": ("unknown-property",),
    "unknown-property-in-synced-segment": ("unknown-property",),
    "missing-environment-id-path": ("missing-property",),
    "missing-cohort-id-path": ("missing-property",),
    "missing-cohort-name-path": ("missing-property",),
    "missing-member-array-parser": ("missing-property",),
    "missing-member-id-path": ("missing-property",),
    "missing-request-parser": ("missing-property",),
    "wrong-type-number-for-pointer": ("wrong-type",),
    "wrong-type-string-for-object": ("wrong-type",),
    "wrong-type-object-for-template": ("wrong-type",),
    "pointer-without-leading-slash": ("bad-pointer",),
    "pointer-bad-tilde-escape": ("bad-pointer",),
    "pointer-trailing-tilde": ("bad-pointer",),
    "pointer-jsonpath": ("bad-pointer",),
    "pointer-jsonpath-with-index": ("bad-pointer",),
    "pointer-dotted-path": ("bad-pointer",),
    "pointer-bracket-path": ("bad-pointer",),
    "pointer-uri-fragment": ("bad-pointer",),
    "pointer-context-kind-value": ("bad-pointer",),
    # cross-field
    "add-without-remove": ("named-arrays-pair",),
    "remove-without-add": ("named-arrays-pair",),
    "member-array-with-named-arrays": ("mixed-member-arrays",),
    "array-inclusion-without-member-array": ("inclusion-needs-array",),
    "array-inclusion-with-named-arrays": ("inclusion-with-named-arrays",),
    "boolean-without-member-array": ("boolean-needs-array",),
    "boolean-with-named-arrays": ("boolean-needs-array",),
    "member-array-membership-undecidable": ("membership-undecidable",),
    "no-member-array": ("no-member-array",),
    # matcher
    "matcher-backreference": ("untranslatable-matcher",),
    "matcher-variable-length-lookbehind": ("untranslatable-matcher",),
    "matcher-syntax-error": ("invalid-matcher",),
    "matcher-backtracks": ("matcher-backtracks",),
    # warnings: the build still succeeds
    "warn-matcher-accepts-removal": ("matcher-accepts-removal",),
    "warn-matcher-names-a-removal": ("matcher-accepts-removal",),
    "warn-bracket-index": ("bracket-index",),
    "warn-boolean-ignored": ("boolean-ignored",),
    "warn-response-without-error": ("response-without-error",),
    "warn-matcher-regex-literal": ("matcher-regex-literal",),
    "warn-matcher-regex-literal-without-flags": ("matcher-regex-literal",),
    "warn-matcher-never-matches": ("matcher-never-matches",),
    "warn-matcher-slow-search": ("matcher-slow-search",),
    "warn-matcher-dead-alternative": ("matcher-never-matches",),
    "warn-matcher-accepts-removal-it-can-match": ("matcher-accepts-removal",),
    "warn-matcher-accepts-example-removal": ("matcher-accepts-removal",),
    "warn-matcher-rejects-example-addition": ("matcher-rejects-addition",),
    "warn-dotted-token": ("dotted-token",),
    "warn-bracket-index-and-dot": ("bracket-index",),
    "warn-empty-token": ("empty-token",),
    "warn-member-path-from-root": ("member-path-from-root",),
    "warn-member-path-is-request-pointer": ("member-path-from-root",),
    "warn-same-place": ("same-place",),
    "warn-same-place-named-arrays": ("same-place",),
    "warn-value-inside-value": ("value-inside-value",),
    "warn-reads-key-of-array": ("value-inside-value",),
    "warn-template-unknown-name": ("template-unknown-name",),
    "warn-template-data-outside-each": ("template-unknown-name",),
    "warn-template-unread-body": ("template-unread-body",),
    "warn-example-not-json": ("example-not-json",),
    # jsonResponseBody
    "template-helper": ("unsupported-template",),
    "template-not-json": ("response-not-json",),
    "template-branch-string": ("unsupported-template",),
    # file level
    "invalid-json": ("invalid-json",),
    "manifest-is-array": ("manifest-not-object",),
    "capabilities-not-object": ("capabilities-not-object",),
    "synced-segment-null": ("wrong-type",),
    "capability-typo": ("capability-typo",),
    # all at once
    "three-problems": ("unknown-property", "bad-pointer", "named-arrays-pair"),
    # the controls: extra top-level fields and other capabilities are ignored; a
    # cohort whose id is its name; #each, #with, ../, @index and @root in scope; a
    # key that really holds a dot, shown by an example body
    "good-full-upstream-manifest": (),
    "good-cohort-id-is-its-name": (),
    "good-template-scopes": (),
    "good-dotted-key-in-example": (),
}
COMPILES = ("warn-", "good-")  # case prefixes whose build must succeed
ALL_CASES = case_names()
# Several tests read what the build says about each case (built() below): a case's tests
# run on one xdist worker, so that they share that one build.
EACH_CASE = [
    pytest.param(case, marks=pytest.mark.xdist_group(f"bad-manifest-{case}"))
    for case in ALL_CASES
]
GOOD_MANIFEST = ROOT / CASES / "good-full-upstream-manifest" / "manifest.json"


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    """The build names files as it was given them: tests/bad_manifests/<case>/..."""
    monkeypatch.chdir(ROOT)


@functools.cache
def built(case: str):
    """build_case once per case for the whole module (each is a full compile)."""
    return build_case(case)


def manifest_path(case: str) -> str:
    return f"{CASES.as_posix()}/{case}/manifest.json"


def test_every_case_folder_is_in_the_codes_table():
    assert ALL_CASES == sorted(CODES)


@pytest.mark.parametrize("case", EACH_CASE)
def test_build_prints_exactly_expected_txt(case):
    expected = (CASES / case / EXPECTED).read_text(encoding="utf-8")
    actual = render(built(case)[1])
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                f"{case}/{EXPECTED}",
                "what the build says",
            )
        )
        pytest.fail(f"run `{COMMAND}` if the change is intended\n{diff}")


@pytest.mark.parametrize("case", EACH_CASE)
def test_case_breaks_exactly_its_rule(case):
    assert tuple(d.code for d in built(case)[1]) == CODES[case]


@pytest.mark.parametrize("case", EACH_CASE)
def test_every_diagnostic_names_file_pointer_and_fix(case):
    diagnostics = built(case)[1]
    try:
        document = json.loads((CASES / case / "manifest.json").read_bytes())
    except json.JSONDecodeError:
        document = None
    examples = f"{CASES.as_posix()}/{case}/examples/"
    for diagnostic in diagnostics:
        if diagnostic.file.startswith(examples):  # about an example body, not a node
            assert diagnostic.code == "example-not-json" and diagnostic.line
            continue
        assert diagnostic.file == manifest_path(case)
        assert diagnostic.message.strip() and diagnostic.hint.strip()
        if document is None:  # the file does not parse: the whole file is the place
            assert diagnostic.pointer == ""
        else:  # raises JsonPointerException when the node does not exist
            jsonpointer.JsonPointer(diagnostic.pointer).resolve(document)


@pytest.mark.parametrize("case", EACH_CASE)
def test_every_diagnostic_names_the_line_and_column_of_its_node(case):
    """Checked against the file's text, not through compiler.positions: a key or a
    value starts there, a template's mark is its mustache, a matcher's its anchor."""
    lines = (CASES / case / "manifest.json").read_text(encoding="utf-8").splitlines()
    for d in built(case)[1]:
        if d.file != manifest_path(case):
            continue
        assert d.line > 0 and d.column > 0, d.render()
        assert (d.end_line, d.end_column) > (d.line, d.column)
        at = lines[d.line - 1][d.column - 1 :]
        if d.code == "invalid-json":
            continue  # where json.loads stopped
        if not d.pointer:
            assert at.startswith("{") or at.startswith("[")  # the whole document
        elif d.code in ("unknown-property", "missing-property", "capability-typo"):
            key = d.pointer.rsplit("/", 1)[-1]
            assert at.startswith(json.dumps(key) + ":"), (d.render(), at)
        elif d.code.startswith(("template-", "unsupported-template")):
            assert at.startswith("{{"), (d.render(), at)
        elif d.code == "matcher-never-matches":
            assert at[0] in "^$", (d.render(), at)
        elif d.code in ("invalid-matcher", "untranslatable-matcher"):
            assert '"matcher": "' in lines[d.line - 1][: d.column - 1], d.render()
        elif d.code == "matcher-slow-search":  # the repeat, in the string
            assert '"matcher": "' in lines[d.line - 1][: d.column - 1], d.render()
        elif d.code == "matcher-backtracks":  # the outer repeat's group, in the string
            assert '"matcher": "' in lines[d.line - 1][: d.column - 1], d.render()
            assert at.startswith("("), (d.render(), at)
        else:  # the value, or the key of an object value
            document = json.loads("\n".join(lines))
            value = jsonpointer.resolve_pointer(document, d.pointer)
            written = json.dumps(d.pointer.rsplit("/", 1)[-1]) + ":"
            if isinstance(value, (dict, list)):
                assert at.startswith(written), (d.render(), at)
            else:
                assert at.startswith(json.dumps(value, ensure_ascii=False)), (
                    d.render(),
                    at,
                )


@pytest.mark.parametrize("case", EACH_CASE)
def test_errors_fail_the_build_and_warnings_do_not(case):
    result, diagnostics = built(case)
    if case.startswith(COMPILES):
        assert result is not None and result.ok
        assert result.compiled == (case,)
        assert f"{module_name(case)}.py" in result.files
        assert all(d.level == WARNING for d in diagnostics)
    else:
        assert any(d.level == ERROR for d in diagnostics)
        assert result is None or (not result.ok and result.files == {})


def test_invalid_json_names_line_and_column():
    text = (CASES / "invalid-json" / "manifest.json").read_text(encoding="utf-8")
    lines = text.splitlines()
    # the fixture's flaw is a trailing comma; JSON reports it where the next property
    # name should have been, at the "}" on the following line
    comma = next(
        i
        for i, line in enumerate(lines[:-1])
        if line.endswith(",") and lines[i + 1].lstrip().startswith("}")
    )
    closing = lines[comma + 1]
    line, column = comma + 2, len(closing) - len(closing.lstrip()) + 1
    (diagnostic,) = built("invalid-json")[1]
    assert f"at line {line}, column {column}" in diagnostic.message


@pytest.mark.parametrize(
    "case,meant",
    [
        ("unknown-property", "cohortUrlPath"),
        ("unknown-property-typo-of-required", "cohortIdPath"),
        ("unknown-property-in-member-array-parser", "cohortIdPath"),
        ("unknown-property-in-synced-segment", "jsonResponseBody"),
    ],
)
def test_typo_gets_did_you_mean(case, meant):
    first = built(case)[1][0]
    assert first.hint.startswith(f'did you mean "{meant}"?')


def test_a_lone_newline_is_not_a_pointer(tmp_path, monkeypatch):
    manifest = json.loads(GOOD_MANIFEST.read_text(encoding="utf-8"))
    manifest["capabilities"]["syncedSegment"]["requestParser"]["cohortIdPath"] = "\n"
    (tmp_path / "manifests" / "newline").mkdir(parents=True)
    text = json.dumps(manifest)
    (tmp_path / "manifests" / "newline" / "manifest.json").write_text(text)
    monkeypatch.chdir(tmp_path)
    result = build(Path("manifests"))
    assert [d.code for d in result.diagnostics] == ["bad-pointer"]


def test_one_manifest_with_three_problems_gets_three_diagnostics():
    diagnostics = built("three-problems")[1]
    assert len({d.code for d in diagnostics}) == 3
    assert len({d.pointer for d in diagnostics}) == 3
    assert all(d.level == ERROR for d in diagnostics)


def test_whole_tier_in_one_build_reports_every_case_and_writes_nothing():
    """One build over all cases says what the cases say one by one, all of it."""
    result = build(CASES)
    expected = Counter()
    for case in ALL_CASES:
        text = (CASES / case / EXPECTED).read_text(encoding="utf-8")
        expected.update(diagnostic_blocks(text))
    assert Counter(d.render() for d in result.diagnostics) == expected
    assert not result.ok and result.files == {}


def diagnostic_blocks(text: str) -> list[str]:
    """The rendered diagnostics of an expected.txt: a head line and its indented lines."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("  ") and blocks:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return ["\n".join(block) for block in blocks]


# --- file level: the folder is the point, so these build their own in tmp_path --------


def add_manifest(manifests: Path, key: str, source: Path = GOOD_MANIFEST) -> None:
    (manifests / key).mkdir(parents=True)
    shutil.copyfile(source, manifests / key / "manifest.json")


@pytest.mark.parametrize("folder", ["Rudderstack", "rudder stack", "_rudderstack"])
def test_folder_name_that_is_not_a_key(folder, tmp_path, monkeypatch):
    add_manifest(tmp_path / "manifests", folder)
    add_manifest(tmp_path / "manifests", "good")
    monkeypatch.chdir(tmp_path)
    result = build(Path("manifests"))
    assert render(result.diagnostics) == (
        f"manifests/{folder}/manifest.json: error: folder name {folder!r} is not a "
        "valid integration key [bad-integration-key]\n"
        "  fix: rename the folder to match ^[a-z0-9][a-z0-9._-]*$ (lower case)\n"
    )
    assert not result.ok and result.files == {}  # the good manifest is not built either


def test_two_keys_that_become_one_module(tmp_path, monkeypatch):
    for key in ("a-b", "a.b"):
        add_manifest(tmp_path / "manifests", key)
    monkeypatch.chdir(tmp_path)
    result = build(Path("manifests"))
    assert render(result.diagnostics) == "".join(
        f"manifests/{key}/manifest.json:1:1: error: integration keys a-b, a.b all become "
        "the module a_b.py [module-name-collision]\n"
        "  fix: rename one of the folders so that the keys differ in more than '.', "
        "'-' and '_'\n"
        for key in ("a-b", "a.b")
    )
    assert not result.ok and result.files == {}


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "compiler", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("out_exists", [False, True], ids=["no-out", "old-out"])
@pytest.mark.parametrize("case", ["add-without-remove", "invalid-json"])
def test_one_bad_manifest_fails_the_build_and_nothing_is_written(
    case, out_exists, tmp_path
):
    add_manifest(tmp_path / "manifests", "rudderstack")
    add_manifest(tmp_path / "manifests", case, ROOT / CASES / case / "manifest.json")
    out = tmp_path / "out"
    if out_exists:
        out.mkdir()
        (out / "__init__.py").write_text("# an earlier build\n", encoding="utf-8")
    before = snapshot(out) if out_exists else None

    done = run_cli(tmp_path, "build", "--manifests", "manifests", "--out", "out")

    # a file that is not JSON is a file mistake (exit 2); a content error exits 1
    assert done.returncode == (2 if case == "invalid-json" else 1), done.stderr
    bad = (CASES / case / EXPECTED).read_text(encoding="utf-8")
    assert bad.replace(f"{CASES.as_posix()}/", "manifests/") in done.stderr
    assert "rudderstack" not in done.stderr
    assert "build failed: nothing written" in done.stderr
    if out_exists:
        assert snapshot(out) == before
    else:
        assert not out.exists()


def test_manifest_without_synced_segment_is_skipped_with_one_line(tmp_path):
    manifests = tmp_path / "manifests"
    add_manifest(manifests, "rudderstack")
    (manifests / "webhooks").mkdir()
    plain = json.loads(GOOD_MANIFEST.read_text(encoding="utf-8"))
    del plain["capabilities"]["syncedSegment"]
    (manifests / "webhooks" / "manifest.json").write_text(
        json.dumps(plain, indent=2), encoding="utf-8"
    )

    done = run_cli(tmp_path, "build", "--manifests", "manifests", "--out", "out")

    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "manifests/webhooks/manifest.json: skipped: no capabilities.syncedSegment"
    ]
    assert (tmp_path / "out" / "rudderstack.py").is_file()
    assert not (tmp_path / "out" / "webhooks.py").exists()
