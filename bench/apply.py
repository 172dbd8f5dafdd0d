"""Apply time of a 100,000-member request: through HTTP, and in the store alone.

    ./dev run python -m bench.apply [--members 100000] [--rounds 3]

Each round syncs a new cohort (a segment created with all its members in one
transaction), then replays the same request (every member already there). Through HTTP
is the whole request on loopback against a real server: send, parse, apply, commit,
answer. Prints a Markdown table of medians; never fails on a figure.
"""

from __future__ import annotations

import argparse
import http.client
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import generated
from bench.load import ServiceProcess, amplitude_body
from service.sqlite.database import Database
from service.sqlite.store import SqliteSegmentStore
from service.store import Environment


def users(count: int, cohort: str) -> list[str]:
    keys = [f"{cohort}-user-{i:07d}" for i in range(count)]
    random.Random(cohort).shuffle(keys)  # partners send members in no particular order
    return keys


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def through_http(members: int, rounds: int) -> tuple[list[float], list[float], int]:
    """(first-sync seconds, replay seconds) per round, and the body size."""
    service = ServiceProcess()
    first, replay, size = [], [], 0
    try:
        conn = http.client.HTTPConnection(service.host, service.port, timeout=300)
        headers = {"Authorization": service.token, "Content-Type": "application/json"}

        def post(body: bytes) -> None:
            conn.request("POST", "/api/v2/segment-targets/amplitude", body, headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 204, response.status

        for n in range(rounds):
            cohort = f"http-{n}"
            body = amplitude_body(service.client_id, cohort, users(members, cohort))
            size = len(body)
            first.append(timed(lambda body=body: post(body)))
            replay.append(timed(lambda body=body: post(body)))
        conn.close()
    finally:
        service.stop()
    return first, replay, size


def store_only(
    members: int, rounds: int
) -> tuple[list[float], list[float], list[float]]:
    """(parse seconds, first apply seconds, replay seconds) per round, no HTTP."""
    folder = Path(tempfile.mkdtemp(prefix="bench-apply-"))
    store = SqliteSegmentStore(Database(folder / "segments.db"))
    environment = Environment("client-1", "default", "production")
    module = generated.module_for("amplitude")
    parse, first, replay = [], [], []
    try:
        for n in range(rounds):
            cohort = f"store-{n}"
            body = amplitude_body("client-1", cohort, users(members, cohort))
            started = time.perf_counter()
            sync = module.parse(generated.decode_body(body))
            parse.append(time.perf_counter() - started)
            first.append(timed(lambda sync=sync: store.apply(environment, sync)))
            replay.append(timed(lambda sync=sync: store.apply(environment, sync)))
    finally:
        store.close()
        shutil.rmtree(folder)
    return parse, first, replay


def row(what: str, seconds: list[float], members: int) -> str:
    median = statistics.median(seconds)
    every = ", ".join(f"{s * 1000:.0f}" for s in seconds)
    return f"| {what} | {median * 1000:.0f} | {members / median:,.0f} | {every} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"through HTTP, {args.rounds} rounds ...", file=sys.stderr, flush=True)
    http_first, http_replay, size = through_http(args.members, args.rounds)
    print(f"store only, {args.rounds} rounds ...", file=sys.stderr, flush=True)
    parse, store_first, store_replay = store_only(args.members, args.rounds)
    print(f"{args.members:,} members in one Amplitude body of {size / 1e6:.1f} MB")
    print()
    print("| step | median ms | members/s | every round (ms) |")
    print("| --- | ---: | ---: | --- |")
    print(
        row(
            "HTTP: first sync (create + add all), 204 received",
            http_first,
            args.members,
        )
    )
    print(row("HTTP: replay (all present already)", http_replay, args.members))
    print(row("parse only (decode_body + amplitude.parse)", parse, args.members))
    print(row("store only: first apply", store_first, args.members))
    print(row("store only: replay", store_replay, args.members))


if __name__ == "__main__":
    main()
