"""Regenerate the golden snapshots: `./dev golden` (python -m tests.golden.regenerate).

Builds tests/golden/manifests/ and writes the result to tests/golden/expected/, which
test_golden.py compares byte for byte. Review the diff before committing it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from compiler import write
from compiler.build import build

GOLDEN = Path(__file__).resolve().parent
MANIFESTS = GOLDEN / "manifests"
EXPECTED = GOLDEN / "expected"
COMMAND = "./dev golden"


def main() -> int:
    result = build(MANIFESTS)
    if not result.ok:
        for diagnostic in result.diagnostics:
            print(diagnostic.render(), file=sys.stderr)
        return 1
    changes = write.plan(EXPECTED, result.files)
    write.apply(EXPECTED, result.files, changes)
    print(
        f"{EXPECTED}: {len(changes.changed)} rewritten, {len(changes.stale)} removed, "
        f"{len(changes.unchanged)} unchanged"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
