"""Regenerate the expected diagnostics of the bad-manifest cases.

    ./dev run python -m tests.bad_manifests.regenerate

Builds every case folder on its own, from the repository root so that the build names
each file `tests/bad_manifests/<case>/manifest.json`, and writes what it says to
`<case>/expected.txt`. Read every rewritten file before committing it: the point of this
tier is that a person has judged each message right and helpful.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

from compiler.build import BuildResult, compile_manifests
from compiler.diagnostics import Diagnostic
from compiler.load import load_one

ROOT = Path(__file__).resolve().parents[2]
CASES = Path("tests/bad_manifests")  # relative to ROOT, the way the build is given it
EXPECTED = "expected.txt"
COMMAND = "./dev run python -m tests.bad_manifests.regenerate"


def case_names() -> list[str]:
    return sorted(path.parent.name for path in (ROOT / CASES).glob("*/manifest.json"))


def build_case(case: str) -> tuple[BuildResult | None, list[Diagnostic]]:
    """What the build says about one case folder (run with ROOT as working directory).

    The result is None when the file cannot be loaded at all (as for invalid JSON).
    """
    manifest, problems = load_one(CASES / case)
    if manifest is None:
        return None, problems
    result = compile_manifests([manifest])
    return result, problems + list(result.diagnostics)


def render(diagnostics: Sequence[Diagnostic]) -> str:
    """The text the build prints for these diagnostics, one block each."""
    return "".join(diagnostic.render() + "\n" for diagnostic in diagnostics)


def main() -> int:
    os.chdir(ROOT)
    rewritten = []
    for case in case_names():
        target = CASES / case / EXPECTED
        text = render(build_case(case)[1])
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            rewritten.append(target)
    for target in rewritten:
        print(f"  wrote {target}")
    print(f"{CASES}: {len(rewritten)} rewritten, {len(case_names())} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
