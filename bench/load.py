"""Requests per second of the service on SQLite and on Redis against a bare uvicorn app.

    ./dev run python -m bench.load [--seconds 5] [--rounds 3] [--connections 8]
                                   [--no-redis] [--baseline DIR]

Starts three servers on loopback and keeps them all running: the service on a fresh
SQLite file, the service on a fresh redis-server (scripts/redis-server.sh), and a bare
uvicorn app around generated.handle (bench/bare_app.py: what the parsers allow). Then,
round after round, each of them in turn gets each case (Amplitude bodies of 1 and 100
members) for SECONDS, from `wrk` with CONNECTIONS keep-alive connections on one thread;
every request adds new members, so every request of the service writes and commits.
Alternating in one run makes a drift of the machine hit every contender alike.

`--baseline DIR` adds a fourth contender: the SQLite service of another checkout of this
repository (its code, this venv), to measure a change before and after in one run:

    mkdir /tmp/base && git archive main | tar -x -C /tmp/base
    ./dev run python -m bench.load --no-redis --baseline /tmp/base

wrk is a small C client: a Python client would need a core of its own to keep up with
the bare app, and this machine has two for the server and the client together. When it
is missing, this script installs Debian's `wrk` with apt where it runs as root (it is
not needed by any test).

Prints, per case: requests/s (all rounds), p50 and p99 (medians over rounds), the ratio
to the bare app, the server process's CPU in cores (median over rounds: all its threads,
from /proc; not Redis's, not wrk's), the answers that were not 204, and whether every
acknowledged member is in the store; for SQLite, the SDKs' backlog as each run ended
(rows of the hash log not merged into member_hashes yet, and the age of its oldest
commit: sqlite/hashes.py), and whether member_hashes held every member once the runs
were over. Never fails on a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from service.sqlite.hashes import INDEX_PAIRS

ROOT = Path(__file__).resolve().parent.parent
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "sync.lua"
CASES = (("1 member", 1), ("100 members", 100))


class ServiceProcess:
    """`python -m service serve` on a free loopback port with a fresh store.

    Its output goes to files, not pipes: a pipe nobody reads would fill with access log
    lines and stall the server mid-benchmark.
    """

    def __init__(self, *args: str, greets: bool = True, checkout: Path = ROOT) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="bench-service-"))
        self.db = self.folder / "segments.db"
        self.on_sqlite = "--store" not in args
        self.stdout = open(self.folder / "stdout.txt", "w+")  # noqa: SIM115
        self.stderr = open(self.folder / "stderr.txt", "w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--db", str(self.db),
             "--port", "0", "--rate-limit", "off", *args],
            cwd=checkout, stdout=self.stdout, stderr=self.stderr,
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


class BareProcess:
    """bench/bare_app.py on uvicorn (httptools, uvloop), on a free loopback port."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="bench-bare-"))
        self.host, self.port = "127.0.0.1", free_port()
        self.stderr = open(self.folder / "stderr.txt", "w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--host",
             self.host, "--port", str(self.port), "--no-access-log",
             "--log-level", "warning", "--no-server-header"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.stderr,
        )  # fmt: skip
        wait_for_port(self.host, self.port, self.process)
        self.client_id = "bare"
        self.token = "none"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.stderr.close()
        shutil.rmtree(self.folder)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(host: str, port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"nothing listens on {host}:{port}") from None
            time.sleep(0.05)


@dataclass
class Contender:
    name: str
    server: object  # ServiceProcess or BareProcess
    stores: bool  # whether members must be found in a store afterwards
    runs: dict[str, list[dict]] = field(default_factory=dict)
    last_run_ended: float = 0.0  # monotonic
    # SQLite: (log rows, seconds since the oldest unmerged commit) as each run ended
    backlogs: list[tuple[int, float]] = field(default_factory=list)


def ensure_wrk() -> str:
    """The path of wrk, installed from Debian when missing and this runs as root."""
    found = shutil.which("wrk")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: installing wrk from Debian ...", file=sys.stderr, flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = shutil.which("wrk")
    if found is None:
        raise SystemExit(
            "bench.load needs wrk (Debian: apt-get install wrk); it is a benchmark "
            "client only, no test needs it"
        )
    return found


def run_wrk(
    wrk: str,
    contender: Contender,
    cohort: str,
    members: int,
    seconds: float,
    connections: int,
    run: str,
) -> dict:
    server = contender.server
    environment = {
        **os.environ,
        "BENCH_MEMBERS": str(members),
        "BENCH_ENVIRONMENT": server.client_id,
        "BENCH_COHORT": cohort,
        "BENCH_TOKEN": server.token,
        "BENCH_RUN": run,
    }
    cpu_before = cpu_seconds(server.process.pid)
    result = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s",
         "-s", str(WRK_SCRIPT), f"http://{server.host}:{server.port}"],
        capture_output=True, text=True, env=environment, check=True,
    )  # fmt: skip
    cpu = cpu_seconds(server.process.pid) - cpu_before
    line = next(line for line in result.stdout.splitlines() if line.startswith("{"))
    run = json.loads(line)
    run["cores"] = cpu / (run["micros"] / 1e6)  # the server's CPU, all its threads
    return run


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fdatasync_ms(folder: Path, samples: int = 50) -> float:
    """Median milliseconds of one 4 KiB write and fdatasync in folder: a commit's floor."""
    path = folder / "fsync-probe"
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(samples):
            os.write(fd, b"x" * 4096)
            started = time.perf_counter()
            os.fdatasync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times) * 1000


def stored_members(server: ServiceProcess, segment_key: str) -> int:
    request = urllib.request.Request(
        f"{server.url}/api/v2/projects/default/environments/production/segments/"
        f"{segment_key}",
        headers={"Authorization": server.token},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)["memberCount"]
    except urllib.error.HTTPError as error:
        if error.code == 404:  # no segment: nothing of the run was stored
            return 0
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--no-redis", action="store_true", help="SQLite and bare only")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="also the SQLite service of the checkout in DIR (before a change)",
    )
    args = parser.parse_args()
    wrk = ensure_wrk()
    redis = None if args.no_redis else RedisProcess()
    contenders: list[Contender] = []
    try:
        contenders.append(
            Contender("bare uvicorn + generated.handle", BareProcess(), False)
        )
        contenders.append(Contender("service, SQLite", ServiceProcess(), True))
        if args.baseline is not None:
            baseline = ServiceProcess(checkout=args.baseline.resolve())
            name = f"service, SQLite, {args.baseline}"
            contenders.append(Contender(name, baseline, True))
        if redis is not None:
            redis_args = ("--store", redis.url, "--key-prefix", "bench")
            contenders.append(
                Contender("service, Redis", ServiceProcess(*redis_args), True)
            )
        for contender in contenders:  # warm up: parsers loaded, segments created
            for case, members in CASES:
                cohort = f"bench{members}"
                contender.runs.setdefault(case, [])
                warm = run_wrk(wrk, contender, cohort, members, 1, 2, "warm")
                contender.runs[case + " warm-up"] = [warm]
        for round_number in range(args.rounds):
            for contender in contenders:
                for case, members in CASES:
                    print(
                        f"round {round_number + 1}/{args.rounds}: {contender.name}, "
                        f"{case}, {args.seconds:g} s ...",
                        file=sys.stderr,
                        flush=True,
                    )
                    contender.runs[case].append(
                        run_wrk(wrk, contender, f"bench{members}", members,
                                args.seconds, args.connections, f"r{round_number}")
                    )  # fmt: skip
                    contender.last_run_ended = time.monotonic()
                    server = contender.server
                    if isinstance(server, ServiceProcess) and server.on_sqlite:
                        contender.backlogs.extend(hash_log_backlog(server))
        sync_ms = fdatasync_ms(contenders[1].server.folder)
        print(report(contenders, args, sync_ms))
        for contender in contenders:
            server = contender.server
            if isinstance(server, ServiceProcess) and server.on_sqlite:
                print(sdk_index(contender.name, server, contender.last_run_ended))
                if contender.backlogs:
                    ends = ", ".join(
                        f"{rows:,} rows / {lag:.1f} s"
                        for rows, lag in contender.backlogs
                    )
                    print(f"{contender.name}: SDK backlog as each run ended: {ends}")
    finally:
        for contender in contenders:
            contender.server.stop()
        if redis is not None:
            redis.stop()


def report(
    contenders: list[Contender], args: argparse.Namespace, sync_ms: float
) -> str:
    lines = [
        f"wrk, 1 thread, {args.connections} connections, {args.rounds} rounds of "
        f"{args.seconds:g} s per case and contender, alternating; fdatasync on the "
        f"SQLite file's disk after the runs: median {sync_ms:.2f} ms; load average "
        f"{os.getloadavg()[0]:.1f}",
        "",
        "| contender | body | requests/s | p50 ms | p99 ms | / bare | cores | not 204 "
        "| acknowledged members in the store |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    bare = {case: rate(contenders[0].runs[case]) for case, _ in CASES}
    for contender in contenders:
        for case, members in CASES:
            runs = contender.runs[case]
            per_second = rate(runs)
            p50 = statistics.median(run["p50"] for run in runs) / 1000
            p99 = statistics.median(run["p99"] for run in runs) / 1000
            failures = sum(run["other"] + run["socket_errors"] for run in runs)
            cores = statistics.median(run["cores"] for run in runs)
            stored = "-"
            if contender.stores:
                acked = members * sum(
                    run["ok"] for run in runs + contender.runs[case + " warm-up"]
                )
                found = stored_members(contender.server, f"amplitude-bench{members}")
                # a request in flight when wrk stopped may have landed unacknowledged
                stored = (
                    f"yes ({found:,} stored >= {acked:,})"
                    if found >= acked
                    else f"NO: {found:,} stored < {acked:,} acknowledged"
                )
            lines.append(
                f"| {contender.name} | {case} | {per_second:,.0f} | {p50:.2f} | "
                f"{p99:.2f} | {per_second / bare[case]:.2f} | {cores:.2f} | {failures} "
                f"| {stored} |"
            )
    return "\n".join(lines)


def hash_log_backlog(server: ServiceProcess) -> list[tuple[int, float]]:
    """[(rows of the hash log, seconds since its oldest commit)], [] for a store of
    before the log (a --baseline)."""
    uri = f"file:{server.db}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        try:
            (rows,) = conn.execute("SELECT COUNT(*) FROM member_hash_log").fetchone()
            oldest = conn.execute(
                "SELECT MIN(committed_at) FROM member_hash_commits"
            ).fetchone()[0]
        except sqlite3.OperationalError:
            return []
    lag = 0.0 if oldest is None or not rows else time.time() - oldest / 1000
    return [(rows, lag)]


def sdk_index(name: str, server: ServiceProcess, since: float) -> str:
    """When, after `since`, the SDKs' index (member_hashes and, from schema 4, its recent
    level) held a hash for every member row (the SDKs see every acknowledged member):
    polled in the file, read-only, for up to 60 s."""
    uri = f"file:{server.db}?mode=ro"
    deadline = since + 60
    with sqlite3.connect(uri, uri=True) as conn:
        two_levels = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'member_hashes_recent'"
        ).fetchone()
        pairs = INDEX_PAIRS if two_levels else "SELECT * FROM member_hashes"
        while True:
            (members,) = conn.execute("SELECT COUNT(*) FROM members").fetchone()
            (hashes,) = conn.execute(f"SELECT COUNT(*) FROM ({pairs})").fetchone()
            now = time.monotonic()
            if hashes == members:
                return (
                    f"{name}: the SDKs' index held all {members:,} members when "
                    f"checked, {now - since:.1f} s after its last run"
                )
            if now > deadline:
                return (
                    f"{name}: the SDKs' index held {hashes:,} of {members:,} members "
                    f"{now - since:.0f} s after its last run"
                )
            time.sleep(0.05)


def rate(runs: list[dict]) -> float:
    return sum(run["requests"] for run in runs) / (
        sum(run["micros"] for run in runs) / 1e6
    )


if __name__ == "__main__":
    main()
