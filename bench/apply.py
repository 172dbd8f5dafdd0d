"""Apply time of a 100,000-member request: through HTTP, and in the store alone; and how
long small writes wait behind a body of almost 16 MiB.

    ./dev run python -m bench.apply [--members 100000] [--rounds 3] [--behind-only]

Each round syncs a new cohort (a segment created with all its members in one
transaction), then replays the same request (every member already there). Through HTTP
is the whole request on loopback against a real server: send, parse, apply, commit,
answer. Behind a big body: 8 connections post 1-member syncs back to back while
another posts one body of 16 MiB less a little (about 270,000 short members); the small ones
answered while the big one was in flight are the figure. Prints Markdown tables; never
fails on a figure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
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


BIG_BODY_LIMIT = 16 * 1024 * 1024


def compact_body(client_id: str, members: int) -> bytes:
    """An Amplitude body of short member keys, without spaces."""
    batch = [
        {"userId": f"u{i}", "cohortId": "big", "cohortName": "big", "value": True}
        for i in range(members)
    ]
    document = {"environmentId": client_id, "batch": batch}
    return json.dumps(document, separators=(",", ":")).encode()


SMALL_WRITERS = 8  # connections posting small writes meanwhile, as wrk's 8


def small_writes_behind_a_big_body() -> tuple[list[float], float, int, int]:
    """(latencies of the small writes sent while the big one ran, its seconds, its size,
    its members)."""
    service = ServiceProcess()
    try:
        members = 300_000  # short keys: as many members as 16 MiB holds
        big = compact_body(service.client_id, members)
        while len(big) > BIG_BODY_LIMIT:
            members -= 5000
            big = compact_body(service.client_id, members)
        headers = {"Authorization": service.token, "Content-Type": "application/json"}
        done = threading.Event()
        big_span: list[float] = []
        small: list[tuple[float, float]] = []  # (sent at, latency)

        def post(conn: http.client.HTTPConnection, body: bytes) -> None:
            conn.request("POST", "/api/v2/segment-targets/amplitude", body, headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 204, response.status

        def post_big() -> None:
            conn = http.client.HTTPConnection(service.host, service.port, timeout=300)
            time.sleep(0.3)  # the small writes are under way first
            started = time.perf_counter()
            post(conn, big)
            big_span.extend((started, time.perf_counter()))
            conn.close()
            time.sleep(0.3)
            done.set()

        def post_small(writer: int) -> None:
            conn = http.client.HTTPConnection(service.host, service.port, timeout=300)
            n = 0
            while not done.is_set():
                n += 1
                user = f"small-{writer}-{n}"
                body = amplitude_body(service.client_id, "small", [user])
                started = time.perf_counter()
                post(conn, body)
                small.append((started, time.perf_counter() - started))
            conn.close()

        threads = [threading.Thread(target=post_big)] + [
            threading.Thread(target=post_small, args=(writer,))
            for writer in range(SMALL_WRITERS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        service.stop()
    start, end = big_span
    during = [
        latency for sent, latency in small if start <= sent + latency and sent <= end
    ]
    return during, end - start, len(big), members


def row(what: str, seconds: list[float], members: int) -> str:
    median = statistics.median(seconds)
    every = ", ".join(f"{s * 1000:.0f}" for s in seconds)
    return f"| {what} | {median * 1000:.0f} | {members / median:,.0f} | {every} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--behind-only",
        action="store_true",
        help="only the small writes behind a big body",
    )
    args = parser.parse_args()
    print("small writes behind a big body ...", file=sys.stderr, flush=True)
    during, big_seconds, size, big_members = small_writes_behind_a_big_body()
    print(
        f"Small writes behind one body of {size / 2**20:.1f} MiB ({big_members:,} "
        f"members, {big_seconds * 1000:.0f} ms to 204): {len(during)} small writes "
        "answered while it was in flight, over "
        f"{SMALL_WRITERS} connections"
    )
    print()
    print("| small writes during the big one | p50 ms | p99 ms | max ms |")
    print("| --- | ---: | ---: | ---: |")
    ordered = sorted(during) or [0.0]
    print(
        f"| {len(during)} | {statistics.median(ordered) * 1000:.1f} | "
        f"{ordered[int(0.99 * (len(ordered) - 1))] * 1000:.1f} | "
        f"{ordered[-1] * 1000:.1f} |"
    )
    print()
    if args.behind_only:
        return
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
