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
from bench import hostile as hostile_bench  # noqa: E402
from bench import parse as parse_bench  # noqa: E402
from bench import render as render_bench  # noqa: E402
from bench.harness import compare, ratio  # noqa: E402
from tests.reference_interpreter import interpret  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"
PYPY_WARMUP_SECONDS = 3.0  # per contender and case, before PyPy's rounds are timed
HOSTILE_MIB = 15


def main() -> int:
    results: dict = {"python": platform.python_version(), "machine": machine()}
    sections = [
        ("parse", parse_section),
        ("hostile", hostile_section),
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
        [pypy, "-m", "bench.parse", "--json", "--members", "100,10000,100000",
         "--warmup", str(PYPY_WARMUP_SECONDS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )  # fmt: skip
    if run.returncode != 0:
        return {"skipped": f"pypy3 failed: {run.stderr.strip()[-300:]}"}
    return json.loads(run.stdout)


def hostile_section() -> list[dict]:
    return hostile_bench.measure(HOSTILE_MIB * 2**20)


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
        slower = ratio(timings, "interpreter", "generated")
        rows.append({"members": n, "interpreter_over_generated": slower})
    return rows


def render_section() -> list[dict]:
    return [
        {"template": key, "response": label, "pybars3_over_ours": over}
        for key, label, _, over in render_bench.measure()
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
if not __ORJSON__:
    generated._runtime._orjson = None
body = boolean_body(__MEMBERS__)
generated.handle("amplitude", body[:200])  # import the parser before measuring
tracemalloc.start()
status = generated.handle("amplitude", body)[0]
peak = tracemalloc.get_traced_memory()[1]
orjson = generated._runtime._orjson is not None
orjson = orjson and len(body) <= generated._runtime.ORJSON_MAX_BODY
print(json.dumps({"status": status, "body_bytes": len(body), "peak_bytes": peak,
                  "members": __MEMBERS__, "decoder": "orjson" if orjson else "json"}))
"""

# 100,000 members make a 15 MB body, which json decodes even with orjson installed
# (bodies over ORJSON_MAX_BODY); orjson's own peak is measured on 25,000 (3.7 MB).
MEMORY_CASES = [(100_000, False), (25_000, False), (25_000, True)]


def memory_section() -> list[dict]:
    results = []
    for members, orjson in MEMORY_CASES:
        program = MEMORY_PROGRAM.replace("__ORJSON__", str(orjson)).replace(
            "__MEMBERS__", str(members)
        )
        run = subprocess.run(
            [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True
        )
        measured = json.loads(run.stdout)
        measured["ratio"] = measured["peak_bytes"] / measured["body_bytes"]
        results.append(measured)
    return results


def timed_build(manifests: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "compiler", "build", "--manifests", str(manifests),
         "--out", str(out)],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


def synthetic_manifests(target: Path, count: int, own_shapes: bool = False) -> None:
    """count manifests made from the shipped ones, each with its own key and pointers.

    With own_shapes, pointers also differ in length from one manifest to the next, so
    that no two parser modules share a shape (compiler.format formats each once).
    """
    shipped = sorted((ROOT / "manifests").glob("*/manifest.json"))
    for i in range(count):
        source = shipped[i % len(shipped)]
        token = f"environmentId{i}" + ("x" * (i // len(shipped)) if own_shapes else "")
        text = source.read_text().replace('"/environmentId"', f'"/{token}"')
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
        synthetic_manifests(temp_path / "shapes", 1000, own_shapes=True)
        shapes = timed_build(temp_path / "shapes", temp_path / "shapes-out")
    return {
        "full_seconds": full,
        "noop_seconds": noop,
        "thousand_seconds": many,
        "thousand_own_shapes_seconds": shapes,
    }


def markdown(results: dict) -> str:
    lines = [f"Python {results['python']} on {results['machine']}.", ""]
    lines += [
        "| handle() / json.loads of the same body | members | with orjson | json only |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in results["parse"]:
        with_orjson = f"{row['handle_ratio']:.2f}" if row["orjson"] else "n/a (json)"
        lines.append(
            f"| {row['case']} | {row['members']:,} | {with_orjson} "
            f"| {row['stdlib_ratio']:.2f} |"
        )
    lines += [
        "",
        "(n/a: a body over 4 MiB is decoded by json even with orjson installed.)",
        "",
        f"| hostile body, about {HOSTILE_MIB} MiB (json decodes) | handle() / json.loads |",
        "| --- | ---: |",
    ]
    for row in results["hostile"]:
        mark = " (worst found)" if row["worst"] else ""
        lines.append(f"| {row['case']}{mark} | {row['json_ratio']:.2f} |")
    pypy = results["pypy"]
    lines.append("")
    if "rows" in pypy:
        first = pypy["rows"][0]
        lines += [
            f"| PyPy: handle() / json.loads (after {first['warmup_seconds']:g} s of "
            f"warm-up per contender, then {first['rounds']} rounds) | members | ratio |",
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
    for memory in results["memory"]:
        lines.append(
            f"| peak memory of a {memory['members']:,}-member request / body size "
            f"(decoded by {memory['decoder']}) | {memory['ratio']:.1f}x |"
        )
    build = results["build"]
    lines += [
        f"| build of the shipped manifests from scratch | {build['full_seconds']:.2f} s |",
        f"| rebuild with nothing changed | {build['noop_seconds']:.2f} s |",
        f"| build of 1,000 synthetic manifests | {build['thousand_seconds']:.1f} s |",
        f"| build of 1,000 synthetic manifests, no two of one shape "
        f"| {build['thousand_own_shapes_seconds']:.1f} s |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
