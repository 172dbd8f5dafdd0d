"""Microseconds per sync through the service's own ASGI layers, with no socket and no store.

    ./dev run python -m bench.asgi [--rounds 4] [--requests 20000] [--baseline DIR]

The app of service/http/app.py, with its request log (text format, to /dev/null), token
cache, routing and the ingest route, is called in process with 1-member Amplitude
bodies; its writer answers at once, so what is timed is the event loop's share of a
sync minus uvicorn and the socket. Each measurement runs in a process of its own, and
with `--baseline DIR` another checkout's app (its code, this venv) alternates with this
one round by round, which measures a change before and after in one run:

    mkdir /tmp/base && git archive main | tar -x -C /tmp/base
    ./dev run python -m bench.asgi --baseline /tmp/base

Prints each round and the medians. Never fails on a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def measure(requests: int) -> float:
    """µs per request through the app of the checkout first on sys.path."""
    from service.http.app import create_app
    from service.logs import configure_logging
    from service.settings import Settings
    from service.sqlite.database import Database
    from service.sqlite.registry import SqliteRegistry
    from service.sqlite.store import SqliteSegmentStore
    from service.store import ChangeResult

    class AnswersAtOnce:
        async def apply(self, environment: Any, sync: Any, *, may_create: bool = True):
            return [
                ChangeResult(sync.segment_key(c), False, len(c.added), len(c.removed))
                for c in sync.changes
            ]

        def close(self) -> None:
            pass

    database = Database(Path(tempfile.mkdtemp(prefix="bench-asgi-")) / "segments.db")
    registry = SqliteRegistry(database)
    first = registry.bootstrap()
    assert first is not None
    settings = Settings(public_url="http://localhost", rate_limit=None)
    app = create_app(
        settings, registry, SqliteSegmentStore(database), writer=AnswersAtOnce()
    )
    stderr, sys.stderr = sys.stderr, open(os.devnull, "w")  # noqa: SIM115
    try:
        configure_logging("text")  # the handler keeps /dev/null
    finally:
        sys.stderr = stderr
    headers = [
        (b"authorization", first.token.encode()),
        (b"content-type", b"application/json"),
    ]
    environment_id = first.environment.client_side_id

    async def one(n: int) -> None:
        batch = [{"userId": f"u{n}", "cohortId": "c", "cohortName": "c", "value": True}]
        body = json.dumps({"environmentId": environment_id, "batch": batch}).encode()
        scope = {
            "type": "http", "method": "POST", "scheme": "http", "http_version": "1.1",
            "path": "/api/v2/segment-targets/amplitude", "query_string": b"",
            "root_path": "", "client": ("127.0.0.1", 1), "server": ("localhost", 80),
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }  # fmt: skip
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        assert sent[0]["status"] == 204, sent

    async def run() -> float:
        for n in range(200):  # warm: parsers imported, caches filled
            await one(n)
        started = time.perf_counter()
        for n in range(requests):
            await one(n)
        return (time.perf_counter() - started) / requests * 1e6

    return asyncio.run(run())


def measured_in(checkout: Path, requests: int) -> float:
    """measure() in a process of its own over the code of checkout."""
    result = subprocess.run(
        [sys.executable, __file__, "--measure", str(requests), "--root", str(checkout)],
        capture_output=True, text=True, check=True, cwd=checkout,
    )  # fmt: skip
    return float(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--baseline", type=Path, metavar="DIR")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:  # a round's own process
        sys.path.insert(0, str(args.root))
        print(measure(args.measure))
        return
    checkouts = {"this checkout": ROOT}
    if args.baseline is not None:
        checkouts[str(args.baseline)] = args.baseline.resolve()
    figures: dict[str, list[float]] = {name: [] for name in checkouts}
    for round_number in range(args.rounds):
        for name, checkout in checkouts.items():
            figures[name].append(measured_in(checkout, args.requests))
            print(f"round {round_number + 1}: {name}: {figures[name][-1]:.1f} µs")
    for name, values in figures.items():
        print(f"{name}: median {statistics.median(values):.1f} µs per request")


if __name__ == "__main__":
    main()
