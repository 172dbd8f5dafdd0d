"""Hostile request bodies: what each costs handle() against json.loads of the same body.

    python -m bench.hostile [--mib 15] [--json]

The issue's cases (a 15 MiB action value of emoji, a 15 MiB top-level string sent to an
integration whose template reads `requestBody.…`) and their relatives, built at any size;
tests/test_cost_bound.py asserts the bound on them at 1 MiB, bench/run.py prints the
figures at 15 MiB. Standard library only. Ratios are in CPU time, fastest rounds,
interleaved: other work on the machine is not counted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

EMOJI = "\U0001f600"
Builder = Callable[[int], bytes]


def dump(doc: object, ascii_only: bool = False) -> bytes:
    return json.dumps(doc, ensure_ascii=ascii_only, separators=(",", ":")).encode()


def hightouch(members: list, action: str = "add", **extra: object) -> bytes:
    doc = {"environmentId": "e", "cohortId": "c", "cohortName": "n", "action": action}
    return dump(dict(doc, members=members, **extra))


def amplitude(batch: list) -> bytes:
    first = dict({"cohortId": "c", "cohortName": "n"}, **batch[0])
    return dump({"environmentId": "e", "batch": [first, *batch[1:]]})


def nested(depth: int, members: int) -> bytes:
    """A valid hightouch body with an extra field nested depth arrays deep."""
    body = hightouch([{"integration_distinct_id": f"u{i}"} for i in range(members)])
    return body[:-1] + b',"extra":' + b"[" * depth + b"]" * depth + b"}"


def named(size: int) -> bytes:
    n = size // 24
    return dump(
        {"environmentId": "e", "cohortId": "c", "cohortName": "n",
         "listData": {"add": [{"id": str(i)} for i in range(n)],
                      "remove": [{"id": str(i)} for i in range(0, n, 2)]}}
    )  # fmt: skip


# name -> (integration key, body of about size bytes)
BODIES: Dict[str, Tuple[str, Builder]] = {
    "emoji action": (
        "hightouch",
        lambda size: hightouch([{"integration_distinct_id": "u"}], EMOJI * (size // 4)),
    ),
    "emoji action, escaped": (
        "hightouch",
        lambda size: dump(
            {"environmentId": "e", "cohortId": "c", "cohortName": "n",
             "action": EMOJI * (size // 12), "members": []},
            ascii_only=True,
        ),  # fmt: skip
    ),
    "top-level string to a template reading requestBody": (
        "example-single-property",
        lambda size: dump("x" * size),
    ),
    "top-level emoji string to a template reading requestBody": (
        "example-single-property",
        lambda size: dump(EMOJI * (size // 4)),
    ),
    "one long member id": (
        "hightouch",
        lambda size: hightouch([{"integration_distinct_id": "x" * size}]),
    ),
    "many long member ids": (
        "hightouch",
        lambda size: hightouch(
            [
                {"integration_distinct_id": f"{i}" + "x" * 1000}
                for i in range(size // 1040)
            ]
        ),
    ),
    "astral characters in member ids": (
        "amplitude",
        lambda size: amplitude(
            [{"userId": EMOJI * 30 + str(i), "value": True} for i in range(size // 150)]
        ),
    ),
    "astral characters in the cohort name": (
        "amplitude",
        lambda size: amplitude(
            [{"userId": "u", "cohortName": EMOJI * (size // 4), "value": True}]
        ),
    ),
    "nesting 900 deep, which json decodes": (
        "hightouch",
        lambda size: nested(900, size // 37),
    ),
    "nesting 1,000 deep, which json decodes with more room": (
        "hightouch",
        lambda size: nested(1000, size // 37),
    ),
    "many tiny members, most ids seen before": (
        "hightouch",
        lambda size: hightouch(
            [{"integration_distinct_id": str(i % 7)} for i in range(size // 32)]
        ),
    ),
    "many tiny members with integer ids": (
        "hightouch",
        lambda size: hightouch(
            [{"integration_distinct_id": i} for i in range(size // 35)]
        ),
    ),
    "many tiny members, the last one broken": (
        "hightouch",
        lambda size: hightouch(
            [{"integration_distinct_id": "a"}] * (size // 32) + [{}]
        ),
    ),
    "many tiny members in both named arrays": ("rudderstack", named),
    "many tiny boolean members": (
        "amplitude",
        lambda size: amplitude(
            [{"userId": str(i), "value": i % 2 == 0} for i in range(size // 33)]
        ),
    ),
    "one long key": (
        "hightouch",
        lambda size: hightouch([{"integration_distinct_id": "u"}], **{"k" * size: 1}),
    ),
    "many duplicate keys": (
        "hightouch",
        lambda size: b"{" + b'"environmentId":"e",' * (size // 20) + hightouch([])[1:],
    ),
    "integers beyond 64 bits as member ids": (
        "hightouch",
        lambda size: hightouch(
            [{"integration_distinct_id": 10**20 + i} for i in range(size // 50)]
        ),
    ),
    "integers beyond 64 bits as cohort overrides": (
        "amplitude",
        lambda size: amplitude(
            [
                {"userId": str(i), "cohortId": 10**20, "value": True}
                for i in range(size // 65)
            ]
        ),
    ),
    "surrogate-pair escapes in member ids": (
        "hightouch",
        lambda size: dump(
            {"environmentId": "e", "cohortId": "c", "cohortName": "n", "action": "add",
             "members": [{"integration_distinct_id": EMOJI * 40 + str(i)}
                         for i in range(size // 500)]},
            ascii_only=True,
        ),  # fmt: skip
    ),
}

# Beyond the bound, found while looking for the worst body: bench/run.py prints them.
WORST: Dict[str, Tuple[str, Builder]] = {
    "a cohort per member (per-member overrides)": (
        "amplitude",
        lambda size: amplitude(
            [
                {"userId": str(i), "cohortId": str(i), "value": True}
                for i in range(size // 52)
            ]
        ),
    ),
    "member ids of 4,000 digits": (
        "hightouch",
        lambda size: hightouch(
            [{"integration_distinct_id": int("9" * 4000)} for _ in range(size // 4030)]
        ),
    ),
}


def json_loads_with_room(body: bytes) -> object:
    """json.loads with the recursion room the runtime gives a body json found deep."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + 1200)
    try:
        return json.loads(body)
    finally:
        sys.setrecursionlimit(limit)


def cpu_seconds(function: Callable[[bytes], object], body: bytes) -> float:
    """CPU time of one call: what other work on the machine takes is not counted."""
    start = time.process_time()
    function(body)
    return time.process_time() - start


def ratio(package, key: str, body: bytes, rounds: int = 9) -> float:
    """handle() / json.loads of the same body, fastest round of each, interleaved."""
    loads = json_loads_with_room if b"[" * 950 in body else json.loads
    ours, theirs = [], []
    for _ in range(rounds):
        theirs.append(cpu_seconds(loads, body))
        ours.append(cpu_seconds(lambda b: package.handle(key, b), body))
    return min(ours) / min(theirs)


def measure(size: int, rounds: int = 5) -> list:
    """A row per body: its size, and the ratio with orjson (when it applies) and without."""
    import generated

    runtime = generated._runtime
    rows = []
    for name, (key, make) in {**BODIES, **WORST}.items():
        body = make(size)
        row = {"case": name, "bytes": len(body), "worst": name in WORST}
        row["status"] = generated.handle(key, body)[0]
        if runtime._orjson is not None and len(body) <= runtime.ORJSON_MAX_BODY:
            row["orjson_ratio"] = ratio(generated, key, body, rounds)
        saved, runtime._orjson = runtime._orjson, None
        try:
            row["json_ratio"] = ratio(generated, key, body, rounds)
        finally:
            runtime._orjson = saved
        rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=15.0, help="body size in MiB")
    parser.add_argument("--json", action="store_true", help="print JSON, not Markdown")
    args = parser.parse_args()
    rows = measure(int(args.mib * 2**20))
    if args.json:
        print(json.dumps(rows))
        return 0
    for row in rows:
        orjson = f"{row['orjson_ratio']:.2f}" if "orjson_ratio" in row else "n/a"
        print(f"| {row['case']} | {row['bytes'] / 2**20:.1f} MiB | {orjson} "
              f"| {row['json_ratio']:.2f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
