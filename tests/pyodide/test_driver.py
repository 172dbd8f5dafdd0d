"""The Pyodide tier's own parts under plain CPython: its driver and its comparison.

So that when the tier fails under Pyodide, what differs is Pyodide. The driver runs here
as it runs there: the job's files in a folder of their own, no site-packages.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.portable import cases as portable
from tests.pyodide import tier


def test_the_driver_gives_cpythons_answers_with_the_standard_library_alone(tmp_path):
    cases = list(portable.corpus())
    files = tier.project_files()
    imports = tier.generated_imports(files)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    job = tmp_path / "job.json"
    job.write_text(
        json.dumps({"files": {}, "cases": cases, "imports": sorted(imports)})
    )
    result = subprocess.run(
        [sys.executable, "-S", "-E", str(tmp_path / "driver.py"), str(job)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    expected = tier.expected_answers(cases)
    assert tier.answer_problems(cases, expected, report) == []
    assert tier.module_problems(report, imports) == []
    assert report["small_c_stack"] == {"generated": False, "generated_single": False}
    assert imports["orjson"] is True and imports["json"] is False  # optional, required

    tampered = json.loads(json.dumps(report))
    tampered["answers"]["generated_single"][7][1] = 599
    problems = tier.answer_problems(cases, expected, tampered)
    assert len(problems) == 1 and problems[0].startswith("generated_single: ")
    assert tier.pyodide_problems(report) != []  # this is not Pyodide
