"""--format text|json|github of check and build: the same diagnostics, three shapes."""

from __future__ import annotations

import json
import re
import shutil
from urllib.parse import unquote

import pytest

from compiler import cli
from compiler.diagnostics import Diagnostic, github_data, github_property
from tests.bad_manifests.regenerate import CASES
from tests.conftest import ROOT

FIELDS = {"file", "line", "column", "pointer", "level", "code", "message", "fix"}
# A GitHub Actions workflow command: ::level key=value,...::message
COMMAND = re.compile(r"::(error|warning|notice) ((?:[a-zA-Z]+=[^,:]*,?)+)::(.*)")


@pytest.fixture
def two_bad(tmp_path):
    """A folder with one error and one warning case of the bad-manifest tier."""
    for case in ("three-problems", "warn-matcher-regex-literal"):
        shutil.copytree(ROOT / CASES / case, tmp_path / "manifests" / case)
    return tmp_path / "manifests"


def test_json_is_one_array_with_every_field(two_bad, capsys):
    assert cli.main(["check", "--manifests", str(two_bad), "--format", "json"]) == 1
    out, err = capsys.readouterr()
    shown = json.loads(out)
    assert len(shown) == 4 and all(FIELDS <= set(d) for d in shown)
    literal = next(d for d in shown if d["code"] == "matcher-regex-literal")
    assert literal["level"] == "warning" and literal["replacement"] == "^[aA][dD][dD]$"
    assert literal["line"] == 13 and literal["column"] == 22
    assert literal["end_line"] == 13 and literal["end_column"] == 32
    assert literal["pointer"].endswith("/arrayInclusion/matcher")
    assert err.endswith("checked 2 manifest(s): 3 error(s), 1 warning(s)\n")


def test_github_annotates_each_node(two_bad, capsys):
    assert cli.main(["check", "--manifests", str(two_bad), "--format", "github"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    for line in lines:
        level, properties, message = COMMAND.fullmatch(line).groups()
        fields = dict(p.split("=", 1) for p in properties.split(","))
        assert set(fields) == {"file", "line", "col", "endLine", "endColumn", "title"}
        assert fields["file"].endswith("/manifest.json") and int(fields["line"]) > 0
        assert "%0Afix: " in message and "\n" not in message
        assert unquote(fields["title"]).split(" (")[0] in {
            "unknown-property",
            "bad-pointer",
            "named-arrays-pair",
            "matcher-regex-literal",
        }


def test_github_escaping():
    assert github_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert github_property("a:b,c%") == "a%3Ab%2Cc%25"
    d = Diagnostic("error", "c", "dir,1/m:x.json", "/a", "50%\nsure", "fix, it")
    assert d.github() == (
        "::error file=dir%2C1/m%3Ax.json,title=c (/a)::50%25%0Asure%0Afix: fix, it"
    )


def test_text_names_file_line_column_then_pointer_and_fix(two_bad, capsys):
    cli.main(["check", "--manifests", str(two_bad)])
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"{two_bad}/three-problems/manifest.json:11:9: error: unknown property "
        '"cohortURLPath" in requestParser [unknown-property]'
    )
    assert err[1] == "  at /capabilities/syncedSegment/requestParser/cohortURLPath"
    assert err[2].startswith('  fix: did you mean "cohortUrlPath"?')


def test_build_json_keeps_stdout_for_the_array(tmp_path, capsys):
    manifests = tmp_path / "manifests"
    shutil.copytree(ROOT / CASES / "warn-matcher-regex-literal", manifests / "beacon")
    out = tmp_path / "out"
    args = [
        "build",
        "--manifests",
        str(manifests),
        "--out",
        str(out),
        "--format",
        "json",
    ]
    assert cli.main(args) == 0
    stdout, stderr = capsys.readouterr()
    assert [d["code"] for d in json.loads(stdout)] == ["matcher-regex-literal"]
    assert "compiled 1 integrations" in stderr and (out / "beacon.py").is_file()
