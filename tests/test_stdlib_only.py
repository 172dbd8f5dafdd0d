"""generated/ and generated_single.py run with the standard library alone: no site-packages."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT
from tests.test_examples import (
    BOOLEAN_EXAMPLE,
    NAMED_ARRAYS_EXAMPLE,
    PARTNER_BODIES,
    SINGLE_PROPERTY_EXAMPLE,
)

PROGRAM = r"""
import json, sys, sysconfig
sys.path[:] = [p for p in sys.path if "site-packages" not in p and p not in ("", ".")]
sys.path.insert(0, ROOT)
import generated, generated_single
answers = {key: generated.handle(key, body.encode())[0] for key, body in BODIES.items()}
single = {key: generated_single.handle(key, body.encode())[0] for key, body in BODIES.items()}
assert single == answers, single
stdlib = sysconfig.get_paths()["stdlib"]
ours = (ROOT + "/generated/", ROOT + "/generated_single.py")
foreign = sorted(
    name for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None)
    and not module.__file__.startswith((stdlib,) + ours)
)
print(json.dumps({"answers": answers, "foreign": foreign, "path": sys.path}))
"""


def test_generated_package_needs_only_the_standard_library(tmp_path):
    bodies = {key: json.dumps(body) for key, body in PARTNER_BODIES.items()}
    bodies["example-boolean-property"] = json.dumps(BOOLEAN_EXAMPLE)
    bodies["example-named-arrays"] = json.dumps(NAMED_ARRAYS_EXAMPLE)
    bodies["example-single-property"] = json.dumps(SINGLE_PROPERTY_EXAMPLE)
    program = f"ROOT = {str(ROOT)!r}\nBODIES = {bodies!r}\n" + PROGRAM
    result = subprocess.run(
        [sys.executable, "-S", "-E", "-c", program],
        cwd=tmp_path,  # not the repo: nothing importable by accident
        capture_output=True,
        text=True,
        env={},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    templated = {"heap-inbound", "example-single-property"}
    assert report["answers"] == {k: 200 if k in templated else 204 for k in bodies}
    assert report["foreign"] == []
    assert not [p for p in report["path"] if "site-packages" in p]
