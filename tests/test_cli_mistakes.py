"""No tracebacks from the command line: every file or folder mistake is one line, exit 2.

Each case runs `python -m compiler ...` as a subprocess in a workspace made once per
module (the runs go two at a time: each is a fresh interpreter).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from compiler import cli, write
from compiler.build import build
from tests.conftest import ROOT, SHIPPED

BODY = (
    '{"environmentId": "e", "cohortId": "c", "cohortName": "n", "action": "add", '
    '"members": [{"integration_distinct_id": "u1"}]}'
)
# Runs the command line as `python -m compiler` does, with a module hidden first.
WITHOUT = (
    "import runpy, sys; sys.modules[sys.argv[1]] = None; sys.argv[:2] = ['compiler']; "
    "runpy.run_module('compiler', run_name='__main__', alter_sys=True)"
)

# id -> (arguments, a phrase the one line must hold)
MISTAKES = {
    "parse-body-missing": (["parse", "hightouch", "missing.json", "--out", "gen"],
                           "missing.json: no such file"),
    "parse-body-is-a-folder": (["parse", "hightouch", "adir", "--out", "gen"],
                               "is a folder"),
    "parse-out-missing": (["parse", "hightouch", "body.json", "--out", "nowhere"],
                          "does not exist"),
    "parse-out-is-a-file": (["parse", "hightouch", "body.json", "--out", "afile"],
                            "is a file"),
    "parse-out-not-a-package": (["parse", "hightouch", "body.json", "--out", "empty"],
                                "has no generated package"),
    "build-out-is-a-file": (["build", "--manifests", "manifests", "--out", "afile"],
                            "--out afile is a file"),
    "build-out-under-a-file": (["build", "--manifests", "manifests", "--out",
                                "afile/sub"], "is a file"),
    "build-out-shadows-json": (["build", "--manifests", "manifests", "--out", "json"],
                               "Python's json module"),
    "build-out-shadows-re": (["build", "--manifests", "manifests", "--out", "out/re"],
                             "Python's re module"),
    "build-out-shadows-a-dependency": (["build", "--manifests", "manifests", "--out",
                                        "jinja2"], "jinja2"),
    "build-out-holds-other-files": (["build", "--manifests", "manifests", "--out",
                                     "foreign"], "did not write it"),
    "build-out-is-the-manifests": (["build", "--manifests", "manifests", "--out",
                                    "manifests"], "holds manifests"),
    "check-manifests-missing": (["check", "--manifests", "nowhere"], "no such folder"),
    "check-manifests-is-a-manifest": (["check", "--manifests",
                                       "manifests/hightouch/manifest.json"],
                                      "--manifests manifests"),
    "check-manifests-is-one-integration": (["check", "--manifests",
                                            "manifests/hightouch"],
                                           "one integration's folder"),
    "check-manifests-empty": (["check", "--manifests", "empty"], "is empty"),
    "check-manifests-no-integrations": (["check", "--manifests", "notintegrations"],
                                        "has no <key>/manifest.json"),
    "check-manifests-one-level-up": (["check", "--manifests", "repo"],
                                     "did you mean --manifests repo/manifests"),
    "check-manifests-is-a-body": (["check", "--manifests", "body.json"], "is a file"),
    "build-manifests-missing": (["build", "--manifests", "nowhere", "--out", "o"],
                                "no such folder"),
    "try-manifest-missing": (["try", "nowhere.json", "body.json"],
                             "no such file or folder"),
    "try-folder-of-integrations": (["try", "manifests", "body.json"],
                                   "try manifests/heap-inbound"),
    "try-folder-without-manifest": (["try", "empty", "body.json"], "has no manifest"),
    "try-folder-name-not-a-key": (["try", "Bad Name", "body.json"], "--key"),
    "try-body-missing": (["try", "manifests/hightouch", "missing.json"],
                         "no such file"),
    "try-body-is-a-folder": (["try", "manifests/hightouch", "adir"], "is a folder"),
    "try-no-body-and-no-examples": (["try", "noexamples"], "no example bodies"),
    "build-without-black": (["-c", WITHOUT, "black", "build", "--manifests",
                             "manifests", "--out", "o"], "black is not installed"),
    "a-dependency-missing": (["-c", WITHOUT, "jsonschema", "check", "--manifests",
                              "manifests"], "'jsonschema' is not installed"),
}  # fmt: skip


def run(cwd: Path, args: list[str]) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        *(args if args[0] == "-c" else ["-m", "compiler", *args]),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("cli")
    for key in ("hightouch", "heap-inbound"):
        shutil.copytree(SHIPPED / key, ws / "manifests" / key)
    result = build(ws / "manifests")
    write.apply(ws / "gen", result.files, write.plan(ws / "gen", result.files))
    (ws / "body.json").write_text(BODY)
    (ws / "afile").write_text("not a folder\n")
    (ws / "adir").mkdir()
    (ws / "adir" / "a.json").write_text(BODY)
    (ws / "empty").mkdir()
    (ws / "notintegrations" / "x").mkdir(parents=True)
    shutil.copytree(ws / "manifests", ws / "repo" / "manifests")
    (ws / "foreign").mkdir()
    (ws / "foreign" / "__init__.py").write_text("# my own package\n")
    (ws / "Bad Name").mkdir()
    shutil.copy(SHIPPED / "hightouch" / "manifest.json", ws / "Bad Name")
    (ws / "noexamples").mkdir()
    shutil.copy(SHIPPED / "hightouch" / "manifest.json", ws / "noexamples")
    return ws


@pytest.fixture(scope="module")
def outcomes(workspace) -> dict[str, subprocess.CompletedProcess]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = {
            c: pool.submit(run, workspace, args) for c, (args, _) in MISTAKES.items()
        }
    return {case: future.result() for case, future in done.items()}


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_a_mistake_is_one_line_and_exit_2(case, outcomes, workspace):
    done = outcomes[case]
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith("python -m compiler: error: ")
    assert MISTAKES[case][1] in lines[0]
    assert not (workspace / "o").exists() and not (workspace / "json").exists()


def test_an_unreadable_body_is_one_line(workspace, monkeypatch, capsys):
    """Root reads every file, so the refusal is simulated in-process."""

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.chdir(workspace)
    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert cli.main(["parse", "hightouch", "body.json", "--out", "gen"]) == 2
    assert capsys.readouterr().err == (
        "python -m compiler: error: BODY body.json: cannot read it: Permission denied\n"
    )


def test_check_needs_no_black_and_says_what_it_checked(workspace):
    done = run(workspace, ["-c", WITHOUT, "black", "check", "--manifests", "manifests"])
    assert (done.returncode, done.stderr) == (
        0,
        "manifests/: checked 2 manifest(s): 0 error(s), 0 warning(s)\n",
    )


def test_a_package_named_json_in_the_working_directory_breaks_nothing(workspace):
    """A package built as json/ before the compiler refused the name."""
    shadowed = workspace / "shadowed"
    (shadowed / "json").mkdir(parents=True)
    (shadowed / "json" / "__init__.py").write_text("raise SystemError('shadowed')\n")
    done = run(shadowed, ["check", "--manifests", "../manifests"])
    assert done.returncode == 0, done.stderr


def test_parse_of_an_unbuilt_key_says_how_to_build_or_try(workspace):
    done = run(workspace, ["parse", "amplitude", "body.json", "--out", "gen"])
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("404 unknown_integration: ")
    assert "gen/ has heap-inbound, hightouch" in line
    assert "python -m compiler build" in line
    assert "python -m compiler try manifests/amplitude body.json" in line


@pytest.mark.parametrize(
    "text, command, where",
    [
        ('{"capabilities": {,}}', "check", ":1:19: error: "),
        ("[1, 2]", "check", ":1:1: error: "),
        ('{"capabilities": {,}}', "try", ":1:19: error: "),
        ('{"a": "\\u00e9"}'.encode("latin-1") + b"\xff", "check", ": error: "),
    ],
    ids=["not-json", "not-an-object", "try-not-json", "not-utf8"],
)
def test_a_manifest_that_is_not_a_json_object_exits_2(tmp_path, text, command, where):
    """A file mistake like a missing file (exit 2), still reported at its position."""
    folder = tmp_path / "manifests" / "broken"
    folder.mkdir(parents=True)
    raw = text if isinstance(text, bytes) else text.encode()
    (folder / "manifest.json").write_bytes(raw)
    (tmp_path / "body.json").write_text(BODY)
    args = ["check", "--manifests", "manifests"]
    if command == "try":
        args = ["try", "manifests/broken", "body.json"]
    done = run(tmp_path, args)
    assert "Traceback" not in done.stderr + done.stdout
    assert done.returncode == 2, done.stderr
    first = (done.stderr or done.stdout).splitlines()[0]
    assert first.startswith("manifests/broken/manifest.json") and where in first, first
