"""The benchmark suite: every figure a ratio measured in this run (or a time for builds).

    ./dev bench            # python -m bench.run; writes bench/results.json too

Parse ratios run interleaved in-process (CPython, and PyPy in a subprocess when pypy3 is
installed); cold start, builds and peak memory run in fresh processes. Nothing here is a
test: no figure fails anything.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import generated  # noqa: E402
from bench import parse as parse_bench  # noqa: E402
from bench import render as render_bench  # noqa: E402
from bench.harness import compare  # noqa: E402
from tests.reference_interpreter import interpret  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"


def main() -> int:
    results: dict = {"python": platform.python_version(), "machine": machine()}
    sections = [
        ("parse", parse_section),
        ("pypy", pypy_section),
        ("oracle", oracle_section),
        ("render", render_section),
        ("cold_start", cold_start_section),
        ("memory", memory_section),
        ("build", build_section),
    ]
    for name, section in sections:
        print(f"… {name}", file=sys.stderr, flush=True)
        results[name] = section()
    print(markdown(results))
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\n(written to {RESULTS.relative_to(ROOT)})", file=sys.stderr)
    return 0


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}"


def parse_section() -> list[dict]:
    return parse_bench.measure(parse_bench.MEMBERS)


def pypy_section() -> dict:
    pypy = shutil.which("pypy3")
    if pypy is None:
        return {"skipped": "pypy3 is not installed"}
    run = subprocess.run(
        [pypy, "-m", "bench.parse", "--json", "--members", "100,10000,100000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if run.returncode != 0:
        return {"skipped": f"pypy3 failed: {run.stderr.strip()[-300:]}"}
    return json.loads(run.stdout)


def oracle_section() -> list[dict]:
    manifest = json.loads((ROOT / "manifests/amplitude/manifest.json").read_text())
    module = generated.module_for("amplitude")
    rows = []
    for n in (100, 10_000):
        doc = json.loads(parse_bench.boolean_body(n))
        timings = compare(
            {
                "generated": lambda d=doc: module.parse(d),
                "interpreter": lambda d=doc: interpret("amplitude", manifest, d),
            },
            rounds=7,
        )
        ratio = timings["interpreter"].median / timings["generated"].median
        rows.append({"members": n, "interpreter_over_generated": ratio})
    return rows


def render_section() -> list[dict]:
    return [
        {"template": key, "response": label, "pybars3_over_ours": ratio}
        for key, label, _, ratio in render_bench.measure()
    ]


def fresh_process_seconds(code: str, runs: int = 15) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cold_start_section() -> dict:
    body = parse_bench.boolean_body(1).decode()
    first = f"import generated; generated.handle('amplitude', {body!r}.encode())"
    ours = fresh_process_seconds(first)
    baseline = fresh_process_seconds("import json")
    return {"seconds": ours, "json_only_seconds": baseline, "ratio": ours / baseline}


MEMORY_PROGRAM = """
import json, sys, tracemalloc
sys.path.insert(0, ".")
from bench.parse import boolean_body
import generated
body = boolean_body(100_000)
generated.handle("amplitude", body[:200])  # import the parser before measuring
tracemalloc.start()
status = generated.handle("amplitude", body)[0]
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"status": status, "body_bytes": len(body), "peak_bytes": peak}))
"""


def memory_section() -> dict:
    results = {}
    for label, orjson in (("json", False), ("orjson", True)):
        program = MEMORY_PROGRAM
        if not orjson:
            program = program.replace(
                "import generated",
                "import generated; generated._runtime._orjson = None",
            )
        run = subprocess.run(
            [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True
        )
        measured = json.loads(run.stdout)
        measured["ratio"] = measured["peak_bytes"] / measured["body_bytes"]
        results[label] = measured
    return results


def timed_build(manifests: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "compiler", "build", "--manifests", str(manifests),
         "--out", str(out)],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


def synthetic_manifests(target: Path, count: int) -> None:
    """count manifests made from the shipped ones, each with its own key and pointers."""
    shipped = sorted((ROOT / "manifests").glob("*/manifest.json"))
    for i in range(count):
        source = shipped[i % len(shipped)]
        text = source.read_text().replace('"/environmentId"', f'"/environmentId{i}"')
        folder = target / f"{source.parent.name}-{i}"
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(text)


def build_section() -> dict:
    with tempfile.TemporaryDirectory() as temp:
        temp_path = Path(temp)
        full = timed_build(ROOT / "manifests", temp_path / "out")
        noop = timed_build(ROOT / "manifests", temp_path / "out")
        synthetic_manifests(temp_path / "many", 1000)
        many = timed_build(temp_path / "many", temp_path / "many-out")
    return {"full_seconds": full, "noop_seconds": noop, "thousand_seconds": many}


def markdown(results: dict) -> str:
    lines = [f"Python {results['python']} on {results['machine']}.", ""]
    lines += [
        "| handle() / json.loads of the same body | members | with orjson | json only |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in results["parse"]:
        lines.append(
            f"| {row['case']} | {row['members']:,} | {row['handle_ratio']:.2f} "
            f"| {row.get('stdlib_ratio', float('nan')):.2f} |"
        )
    pypy = results["pypy"]
    lines.append("")
    if "rows" in pypy:
        lines += [
            "| PyPy: handle() / json.loads | members | ratio |",
            "| --- | ---: | ---: |",
        ]
        for row in pypy["rows"]:
            lines.append(
                f"| {row['case']} | {row['members']:,} | {row['handle_ratio']:.2f} |"
            )
    else:
        lines.append(f"PyPy: {pypy['skipped']}.")
    lines += ["", "| other figures | ratio or time |", "| --- | ---: |"]
    for row in results["oracle"]:
        lines.append(
            f"| reference interpreter / generated parser, {row['members']:,} members "
            f"| {row['interpreter_over_generated']:.1f}x |"
        )
    for row in results["render"]:
        lines.append(
            f"| pybars3 / ours, {row['template']} {row['response']} "
            f"| {row['pybars3_over_ours']:.1f}x |"
        )
    cold = results["cold_start"]
    lines.append(
        f"| cold start: import generated + first handle() / import json "
        f"| {cold['ratio']:.2f}x ({cold['seconds'] * 1e3:.0f} ms) |"
    )
    for label, memory in results["memory"].items():
        lines.append(
            f"| peak memory of a 100,000-member request / body size ({label}) "
            f"| {memory['ratio']:.1f}x |"
        )
    build = results["build"]
    lines += [
        f"| build of the shipped manifests from scratch | {build['full_seconds']:.2f} s |",
        f"| rebuild with nothing changed | {build['noop_seconds']:.2f} s |",
        f"| build of 1,000 synthetic manifests | {build['thousand_seconds']:.1f} s |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
