"""Where handle()'s time goes: each step as a fraction of json.loads of the body.

    ./dev run python -m bench.breakdown [--members 10000,100000]

For each parse case, timed interleaved in CPU time (bench.harness): json.loads of the
body; the runtime's decode_body (UTF-8, the scanner, the surrogate-escape check); the
module's parse() of the decoded document; the response; handle() from the bytes with
json alone; and, where orjson is installed and decodes the body (up to 4 MiB),
orjson.loads and handle() with orjson. A ratio target above 1 is what parse() and
the response may add to decoding.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import generated  # noqa: E402
from bench.harness import compare  # noqa: E402
from bench.parse import CASES, rounds_for, without_orjson  # noqa: E402


def steps(key: str, body: bytes) -> dict:
    """The contenders: json.loads, each step of handle() alone, handle(), orjson's."""
    runtime = generated._runtime
    module = generated.module_for(key)
    doc = runtime.decode_body(body)
    sync = module.parse(doc)
    contenders = {
        "json.loads": lambda: json.loads(body),
        "decode_body": lambda: runtime.decode_body(body),
        "parse": lambda: module.parse(doc),
        "response": lambda: runtime.success_response(module, doc, sync),
        "handle": lambda: without_orjson(key, body),
    }
    orjson = runtime._orjson
    if orjson is not None and len(body) <= runtime.ORJSON_MAX_BODY:
        contenders["orjson.loads"] = lambda: orjson.loads(body)
        contenders["handle, orjson"] = lambda: generated.handle(key, body)
    return contenders


def measure(members: tuple[int, ...]) -> list[dict]:
    rows = []
    for label, (key, make) in CASES.items():
        for n in members:
            body = make(n)
            rounds, seconds = rounds_for(len(body))
            timings = compare(steps(key, body), rounds, seconds)
            base = timings["json.loads"].median
            row = {"case": label, "members": n}
            row.update({name: t.median / base for name, t in timings.items()})
            rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", default="10000,100000")
    args = parser.parse_args()
    members = tuple(int(n) for n in args.members.split(","))
    names = ["decode_body", "parse", "response", "handle"]
    names += ["orjson.loads", "handle, orjson"]
    print("| / json.loads | members | " + " | ".join(names) + " |")
    print("| --- | ---: |" + " ---: |" * len(names))
    for row in measure(members):
        cells = " | ".join(f"{row[n]:.2f}" if n in row else "n/a" for n in names)
        print(f"| {row['case']} | {row['members']:,} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
