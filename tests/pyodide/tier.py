"""The Pyodide tier: the committed generated/ and generated_single.py, run under Pyodide.

`./dev test` runs it after pytest (`./dev pyodide` runs it alone). CPython takes the
portable corpus (tests/portable/cases.py; --corpus FILE reads the file `./dev test`
wrote for every tier) and writes a job of the committed files and the cases; Node loads
npm's pyodide (which ./dev installs into .node/, pinned by package-lock.json here) and
runs driver.py in it over both forms; CPython then compares every answer: parse() with
the reference interpreter, handle() byte for byte with CPython's own generated/ (whose
statuses the interpreter vouches for too).

It also proves that the package needs nothing but Pyodide's standard library: no package
is loaded, every module the generated files import is found there (orjson, optional,
need not be), and running the cases loads no module from anywhere else.

    python -m tests.pyodide.tier [--corpus FILE]
"""

from __future__ import annotations

import argparse
import ast
import base64
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

import generated  # noqa: E402
from tests.portable import cases as portable  # noqa: E402

PYODIDE = ROOT / ".node" / "node_modules" / "pyodide"
FORMS = ("generated", "generated_single")
SHOWN = 5  # mismatches printed in full


def project_files() -> dict[str, str]:
    """The committed files, as the job carries them into Pyodide's file system."""
    files = {
        f"generated/{path.name}": path.read_text("utf-8")
        for path in sorted((ROOT / "generated").glob("*.py"))
    }
    files["generated_single.py"] = (ROOT / "generated_single.py").read_text("utf-8")
    files["driver.py"] = (HERE / "driver.py").read_text("utf-8")
    return files


def imported_modules(text: str) -> dict[str, bool]:
    """Top-level modules a file imports, each True when optional (under except ImportError)."""
    found: dict[str, bool] = {}

    def visit(node: ast.AST, optional: bool) -> None:
        if isinstance(node, ast.Try):
            guarded = optional or any(catches_import_error(h) for h in node.handlers)
            for statement in node.body:
                visit(statement, guarded)
            for other in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(other, optional)
            return
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            found[top] = found.get(top, True) and optional
        for child in ast.iter_child_nodes(node):
            visit(child, optional)

    visit(ast.parse(text), False)
    return found


def catches_import_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return any(
        isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError")
        for n in names
    )


def generated_imports(files: dict[str, str]) -> dict[str, bool]:
    """Every module the generated files import: True when it is optional."""
    found: dict[str, bool] = {}
    for name, text in files.items():
        if name != "driver.py":
            for module, optional in imported_modules(text).items():
                found[module] = found.get(module, True) and optional
    return found


def expected_answers(cases: list) -> list:
    """What driver.answer must give for each case, worked out here under CPython."""
    expected = []
    for case in cases:
        key, body = case["key"], portable.body_of(case)
        parsed = portable.expected_parse(key, case["doc"]) if "doc" in case else None
        status, headers, payload = generated.handle(key, body)
        oracle = portable.expected_bytes(key, body)
        assert status == (oracle[1] if oracle[0] == "error" else status), (case, oracle)
        answer = [parsed, status, headers, base64.b64encode(payload).decode()]
        expected.append(json.loads(json.dumps(answer)))  # as the JSON answer reads
    return expected


def answer_problems(cases: list, expected: list, report: dict) -> list[str]:
    """Every case whose answer differs from CPython's, per form (the first few in full)."""
    problems = []
    for form in FORMS:
        wrong = [
            (case, want, got)
            for case, want, got in zip(cases, expected, report["answers"][form])
            if want != got
        ]
        for case, want, got in wrong[:SHOWN]:
            shown = {
                k: v if len(str(v)) < 300 else str(v)[:300] + "..."
                for k, v in case.items()
            }
            problems.append(f"{form}: {shown}\n  expected {want}\n  got      {got}")
        if len(wrong) > SHOWN:
            problems.append(f"{form}: {len(wrong) - SHOWN} more cases differ")
    return problems


def module_problems(report: dict, imports: dict) -> list[str]:
    """Imports the runtime lacks, and modules loaded from outside its standard library."""
    problems = []
    missing = sorted(
        m for m, optional in imports.items() if not optional and not report["found"][m]
    )
    if missing:
        problems.append(
            f"the standard library here lacks {missing}, which generated/ imports"
        )
    if report["foreign"]:
        problems.append(
            f"modules loaded from outside the standard library: {report['foreign']}"
        )
    return problems


def pyodide_problems(report: dict) -> list[str]:
    if report["platform"] == "emscripten" and all(report["small_c_stack"].values()):
        return []
    return [f"not Pyodide as expected: {report['platform']}, {report['small_c_stack']}"]


def run_pyodide(job: dict) -> tuple[dict, str]:
    """The driver's report from Pyodide, and what Node said on stderr."""
    if not (PYODIDE / "pyodide.mjs").is_file():
        raise SystemExit(
            f"pyodide tier: {PYODIDE} is missing; ./dev pyodide installs it"
        )
    with tempfile.TemporaryDirectory() as folder:
        job_path, answers_path = Path(folder, "job.json"), Path(folder, "answers.json")
        job_path.write_text(json.dumps(job), encoding="utf-8")
        node = subprocess.run(
            [
                "node",
                str(HERE / "run.mjs"),
                str(PYODIDE),
                str(job_path),
                str(answers_path),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if node.returncode != 0:
            said = (node.stdout + node.stderr).strip().splitlines()
            said = [line for line in said if not line.lstrip().startswith("at wasm://")]
            tail = "\n".join(said[-30:])
            raise SystemExit(
                f"pyodide tier: FAILED, node exited {node.returncode}:\n{tail}"
            )
        return json.loads(answers_path.read_text("utf-8")), node.stderr.strip()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.pyodide.tier")
    parser.add_argument(
        "--corpus", type=Path, help="a file from python -m tests.portable.cases"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.corpus:
        cases = json.loads(args.corpus.read_text("utf-8"))["cases"]
    else:
        cases = list(portable.generate())
    files = project_files()
    imports = generated_imports(files)
    job = {"files": files, "cases": cases, "imports": sorted(imports)}
    expected = expected_answers(cases)
    report, said = run_pyodide(job)
    problems = answer_problems(cases, expected, report)
    problems += module_problems(report, imports) + pyodide_problems(report)
    seconds = time.perf_counter() - started
    print(said, file=sys.stderr)
    for problem in problems:
        print(problem, file=sys.stderr)
    verdict = "FAILED" if problems else "passed"
    print(
        f"pyodide tier {verdict}: {len(cases)} cases x {len(FORMS)} forms "
        f"(sha256 {portable.digest(tuple(cases))[:16]}) under Python {report['python']} "
        f"on {report['platform']}; the run loaded {len(report['loaded'])} modules "
        f"({', '.join(report['loaded'])}); {seconds:.1f} s in all",
        file=sys.stderr,
    )
    checks = len(cases) * len(FORMS)
    wrong = sum(
        want != got
        for form in FORMS
        for want, got in zip(expected, report["answers"][form])
    )
    failed = wrong + len(module_problems(report, imports) + pyodide_problems(report))
    print(
        f"pyodide: {checks - wrong} passed, {failed} failed"
    )  # the closing line, as pytest's
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
