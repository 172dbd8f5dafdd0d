"""Parse-path ratios: handle() from bytes versus json.loads of the same bytes.

Standard library only (plus generated/), so that it also runs under PyPy:

    python -m bench.parse [--members 1,100,10000,100000] [--json]

Each row times handle() and json.loads interleaved, round by round; a ratio below 1
means handle() is faster than merely decoding the body with json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import generated  # noqa: E402
from bench.harness import compare  # noqa: E402

MEMBERS = (1, 100, 10_000, 100_000)


def boolean_body(n: int, cohorts: int = 1) -> bytes:
    """Amplitude: a true/false per member; cohorts > 1 spreads members over overrides."""
    batch = [
        {
            "userId": f"user-{i}",
            "cohortId": f"cohort-{i % cohorts}",
            "cohortName": f"Cohort {i % cohorts}",
            "cohortUrl": "https://app.amplitude.com/cohorts/cohort-0",
            "value": i % 3 != 0,
        }
        for i in range(max(n, 1))
    ]
    return json.dumps({"environmentId": "env-1", "batch": batch}).encode()


def action_body(n: int) -> bytes:
    """Hightouch: one action for the whole batch."""
    members = [{"integration_distinct_id": f"user-{i}"} for i in range(n)]
    return json.dumps(
        {"environmentId": "env-1", "contextKind": "user", "cohortId": "c-1",
         "cohortName": "VIP", "action": "add", "members": members}
    ).encode()  # fmt: skip


def named_body(n: int) -> bytes:
    """RudderStack: separate add and remove arrays."""
    add = [{"id": f"user-{i}"} for i in range(0, n, 2)]
    remove = [{"id": f"user-{i}"} for i in range(1, n, 2)]
    return json.dumps(
        {"environmentId": "env-1", "cohortId": "c-1", "cohortName": "Beta",
         "listData": {"add": add, "remove": remove}}
    ).encode()  # fmt: skip


CASES = {
    "boolean (amplitude)": ("amplitude", boolean_body),
    "action (hightouch)": ("hightouch", action_body),
    "named arrays (rudderstack)": ("rudderstack", named_body),
    "per-member overrides, 10 cohorts (amplitude)": (
        "amplitude",
        lambda n: boolean_body(n, cohorts=10),
    ),
}


def rounds_for(size: int) -> tuple[int, float]:
    return (5, 0.3) if size > 5_000_000 else (9, 0.1)


def measure(members: tuple[int, ...], warmup_seconds: float = 0.0) -> list[dict]:
    """A row per case and size: handle() / json.loads, with orjson and json alone.

    "orjson" is set to whether handle() decoded with orjson: it is installed and the
    body is within ORJSON_MAX_BODY (4 MiB); otherwise handle() measured json.
    """
    runtime = generated._runtime
    rows = []
    for label, (key, make) in CASES.items():
        for n in members:
            body = make(n)
            assert generated.handle(key, body)[0] == 204, (label, n)
            uses_orjson = (
                runtime._orjson is not None and len(body) <= runtime.ORJSON_MAX_BODY
            )
            contenders = {
                "json.loads": lambda b=body: json.loads(b),
                "handle": lambda k=key, b=body: generated.handle(k, b),
            }
            if uses_orjson:
                contenders["handle, json only"] = lambda k=key, b=body: without_orjson(
                    k, b
                )
            rounds, seconds = rounds_for(len(body))
            timings = compare(
                contenders,
                rounds=rounds,
                round_seconds=seconds,
                warmup_seconds=warmup_seconds,
            )
            base = timings["json.loads"].median
            row = {
                "case": label,
                "members": n,
                "body_bytes": len(body),
                "json_loads_ms": base * 1e3,
                "rounds": rounds,
                "warmup_seconds": warmup_seconds,
                "orjson": uses_orjson,
                "handle_ratio": timings["handle"].median / base,
                "spread": timings["handle"].spread,
            }
            # json alone: measured beside orjson, or handle() itself when it used json
            json_only = "handle, json only" if uses_orjson else "handle"
            row["stdlib_ratio"] = timings[json_only].median / base
            rows.append(row)
    return rows


def without_orjson(key: str, body: bytes) -> object:
    runtime = generated._runtime
    saved, runtime._orjson = runtime._orjson, None
    try:
        return generated.handle(key, body)
    finally:
        runtime._orjson = saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", default=",".join(map(str, MEMBERS)))
    parser.add_argument(
        "--warmup",
        type=float,
        default=0.0,
        help="seconds each contender runs before it is timed (for PyPy's JIT)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON, not Markdown")
    args = parser.parse_args()
    members = tuple(int(n) for n in args.members.split(","))
    rows = measure(members, args.warmup)
    if args.json:
        implementation = platform.python_implementation()
        print(json.dumps({"implementation": implementation, "rows": rows}))
        return 0
    for row in rows:
        with_orjson = f"{row['handle_ratio']:.2f}" if row["orjson"] else "n/a"
        print(
            f"| {row['case']} | {row['members']:,} | {with_orjson} "
            f"| {row['stdlib_ratio']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
