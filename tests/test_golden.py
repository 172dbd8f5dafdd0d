"""Golden snapshots: the generated code for edge-case manifests is exactly as committed."""

from __future__ import annotations

import difflib
import subprocess
import sys

import pytest

from compiler.build import build
from tests.golden.regenerate import COMMAND, EXPECTED, MANIFESTS


@pytest.fixture(scope="module")
def golden_build():
    result = build(MANIFESTS)
    assert result.ok, [d.render() for d in result.diagnostics]
    return result


def test_golden_files_are_exactly_as_committed(golden_build):
    committed = {p.name: p.read_text(encoding="utf-8") for p in EXPECTED.glob("*.py")}
    assert sorted(committed) == sorted(golden_build.files), f"run `{COMMAND}`"
    for name, text in sorted(golden_build.files.items()):
        if committed[name] != text:
            diff = "".join(
                difflib.unified_diff(
                    committed[name].splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    f"expected/{name}",
                    f"generated/{name}",
                )
            )
            pytest.fail(f"{name} differs from its snapshot; run `{COMMAND}`\n{diff}")


def test_golden_files_pass_ruff():
    ruff = [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated"]
    rules = ["--select", "E,F,W,B,I", "--target-version", "py39", str(EXPECTED)]
    result = subprocess.run(ruff + rules, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_golden_build_warns_where_the_fixtures_ask_for_it(golden_build):
    codes = {(d.file.split("/")[-2], d.code) for d in golden_build.diagnostics}
    assert codes == {("complex-matcher", "boolean-ignored")}


def test_generated_literals_hold_what_the_manifest_says(golden_build):
    """Quotes, newlines and template syntax in pointers end up inside literals, intact."""
    source = golden_build.files["tricky_strings.py"]
    compile(source, "tricky_strings.py", "exec")
    assert (
        "doc.get('he said \"hi\"')" in source or 'doc.get("he said \\"hi\\"")' in source
    )
    assert 'member.get("{{ m.key }}")' in source
    # the newline in a pointer is escaped in its comment, not a line break in the code
    assert '# cohortNamePath "/new\\nline"' in source
