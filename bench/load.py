"""Requests per second of the real service on loopback, for Amplitude bodies of 1 and 100 members.

    ./dev run python -m bench.load [--seconds 5] [--connections 8] [--redis]

Starts `python -m service serve` (fresh SQLite file, rate limit off), then for each case
keeps CONNECTIONS keep-alive connections busy for SECONDS, each request adding new members
to one segment (so every request really writes and commits). With --redis, the same cases
again over a fresh redis-server (scripts/redis-server.sh) with 1 and then 2 service
processes, the connections spread over them. The client is a minimal
asyncio HTTP/1.1 client in this process, so that it takes little of the CPU the server
shares with it. Prints a Markdown table; never fails on a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class ServiceProcess:
    """`python -m service serve` on a free loopback port with a fresh store.

    Its output goes to files, not pipes: a pipe nobody reads would fill with access log
    lines and stall the server mid-benchmark.
    """

    def __init__(self, *args: str, greets: bool = True) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="bench-service-"))
        self.db = self.folder / "segments.db"
        self.stdout = open(self.folder / "stdout.txt", "w+")  # noqa: SIM115
        self.stderr = open(self.folder / "stderr.txt", "w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--db", str(self.db),
             "--port", "0", "--rate-limit", "off", *args],
            cwd=ROOT, stdout=self.stdout, stderr=self.stderr,
        )  # fmt: skip
        self.url = self._wait_for(
            self.folder / "stderr.txt", r"listening on (http://\S+)"
        )
        # only the first process over a store greets; the others get these from it
        self.client_id = self.token = ""
        if greets:
            self.client_id = self._wait_for(
                self.folder / "stdout.txt", r"client-side id: (\S+)"
            )
            self.token = self._wait_for(
                self.folder / "stdout.txt", r"access token: +(\S+)"
            )
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        self.host, self.port = host, int(port)

    def _wait_for(self, path: Path, pattern: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, path.read_text(), re.M)
            if match:
                return match.group(1)
            if self.process.poll() is not None:
                raise RuntimeError("the service exited:\n" + path.read_text())
            time.sleep(0.02)
        raise RuntimeError(f"no {pattern!r} in {path} within {timeout} s")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.stdout.close()
        self.stderr.close()
        shutil.rmtree(self.folder)


def amplitude_body(client_id: str, cohort: str, users: list[str]) -> bytes:
    """An Amplitude body adding users to one cohort."""
    batch = [
        {"userId": user, "cohortId": cohort, "cohortName": cohort, "value": True}
        for user in users
    ]
    return json.dumps({"environmentId": client_id, "batch": batch}).encode()


class RedisProcess:
    """redis-server on a free loopback port with a fresh data folder."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="bench-redis-"))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [
                str(ROOT / "scripts" / "redis-server.sh"),
                str(self.port),
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
        )
        self.url = f"redis://127.0.0.1:{self.port}/0"
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.folder)


@dataclass
class Result:
    case: str
    setup: str
    body_bytes: int
    requests: int
    seconds: float
    latencies: list[float]
    failures: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def request_bytes(service: ServiceProcess, token: str, body: bytes) -> bytes:
    head = (
        "POST /api/v2/segment-targets/amplitude HTTP/1.1\r\n"
        f"Host: {service.host}:{service.port}\r\n"
        f"Authorization: {token}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_status(reader: asyncio.StreamReader) -> int:
    """Read one response (Content-Length bodies only, as the service sends); its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return int(lines[0].split()[1])


async def run_case(
    services: list[ServiceProcess],
    setup: str,
    case: str,
    members: int,
    seconds: float,
    connections: int,
) -> Result:
    """Connection i goes to services[i % len(services)]; the first one's token for all."""
    first = services[0]
    counter = itertools.count()
    latencies: list[float] = []
    failures = 0
    body_bytes = 0

    def next_request(service: ServiceProcess) -> bytes:
        nonlocal body_bytes
        n = next(counter)
        users = [f"{case}-{n}-{i}" for i in range(members)]
        body = amplitude_body(first.client_id, case, users)
        body_bytes = len(body)
        return request_bytes(service, first.token, body)

    async def connection(index: int, deadline: float) -> None:
        nonlocal failures
        service = services[index % len(services)]
        reader, writer = await asyncio.open_connection(service.host, service.port)
        try:
            while time.perf_counter() < deadline:
                payload = next_request(service)
                started = time.perf_counter()
                writer.write(payload)
                await writer.drain()
                status = await read_status(reader)
                latencies.append(time.perf_counter() - started)
                if status != 204:
                    failures += 1
        finally:
            writer.close()

    # warm-up: the first request creates the segment and loads the parser
    warm_up = time.perf_counter() + 0.5
    await asyncio.gather(*(connection(i, warm_up) for i in range(2)))
    latencies.clear()
    failures = 0
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(connection(i, deadline) for i in range(connections)))
    elapsed = time.perf_counter() - started
    return Result(case, setup, body_bytes, len(latencies), elapsed, latencies, failures)


def table(results: list[Result], connections: int) -> str:
    lines = [
        "| store, processes | body | bytes | connections | requests | req/s | p50 ms "
        "| p99 ms | non-204 |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.setup} | {r.case} | {r.body_bytes} | {connections} | {r.requests} | "
            f"{r.per_second:.0f} | {statistics.median(r.latencies) * 1000:.1f} | "
            f"{r.percentile(0.99) * 1000:.1f} | {r.failures} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per case")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--redis",
        action="store_true",
        help="also over Redis, with 1 and 2 service processes",
    )
    args = parser.parse_args()
    results = run_setup([ServiceProcess()], "SQLite, 1", args)
    if args.redis:
        redis = RedisProcess()
        try:
            # a prefix per setup: each starts on an empty store of its own
            one = ("--store", redis.url, "--key-prefix", "bench-1")
            results += run_setup([ServiceProcess(*one)], "Redis, 1", args)
            two = ("--store", redis.url, "--key-prefix", "bench-2")
            both = [ServiceProcess(*two), ServiceProcess(*two, greets=False)]
            results += run_setup(both, "Redis, 2", args)
        finally:
            redis.stop()
    print(table(results, args.connections))


def run_setup(
    services: list[ServiceProcess], setup: str, args: argparse.Namespace
) -> list[Result]:
    """Both cases against these processes (one store), which are stopped after."""
    results = []
    try:
        for case, members in (("amplitude-1", 1), ("amplitude-100", 100)):
            print(
                f"{setup}: {case}: {args.seconds:g} s ...", file=sys.stderr, flush=True
            )
            results.append(
                asyncio.run(
                    run_case(
                        services, setup, case, members, args.seconds, args.connections
                    )
                )
            )
    finally:
        for service in services:
            service.stop()
    return results


if __name__ == "__main__":
    main()
