"""What a LaunchDarkly SDK reading Big Segments sees while a million-member sync lands on Redis.

    ./dev run python -m bench.sdk_reads [--members 1000000] [--every-ms 10] [--mode both]

Starts a fresh redis-server (scripts/redis-server.sh: AOF, fsync always, as the service
runs it) and syncs one request of MEMBERS new members through the Redis segment store, in
this process. Meanwhile:

- a reader process makes membership lookups with the real SDK's Redis Big Segment store
  (`ldclient.integrations.Redis.new_big_segment_store(...).get_membership`, exactly the
  call an SDK makes per context), one due every EVERY_MS, for members of a segment
  synced before, each timed from its call to its answer, and from when it was due;
- a thread of this process applies a one-member sync of another segment every 100 ms
  (what other partners' syncs see meanwhile).

Prints how long each sync script held Redis (its SLOWLOG), and the latency percentiles of
the lookups and small syncs due while the big sync ran, with how many failed (Redis
answers BUSY once a script has run for 5 s). By default twice, on a fresh Redis each: the whole
request in one script (the store before bounded steps), then in steps.
A latency bound, not a throughput figure: it depends on the machine and what else runs
on it, so it is measured here and never asserted in the test suite.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "launchdarkly"
WARM_MEMBERS = 10_000  # members of the segment the reader looks up


def reader(url: str, keys_file: str, every_ms: float) -> None:
    """The reader process: SDK lookups until stdin closes, then one JSON line of timings."""
    from ldclient.impl.big_segments_common import _hash_for_user_key
    from ldclient.integrations import Redis

    store = Redis.new_big_segment_store(url=url, prefix=PREFIX)
    hashes = [
        _hash_for_user_key(key) for key in json.loads(Path(keys_file).read_text())
    ]
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    # Lookups on a fixed schedule, each timed twice: from its call to its answer, and
    # from when it was due (a lookup stuck behind a long script delays the ones due
    # after it, as in an application whose requests keep coming; the call's own time
    # hides that, and the time from due also counts this process waiting for a CPU).
    timings = []  # (wall-clock time due, seconds of the call, seconds from due, ok)
    rng = random.Random(7)
    every = every_ms / 1000
    due = time.perf_counter()
    offset = time.time() - due
    while not stop.is_set():
        started = time.perf_counter()
        try:
            ok = store.get_membership(rng.choice(hashes)) is not None
        except Exception:  # BUSY, a dropped connection: a failed lookup, timed too
            ok = False
        ended = time.perf_counter()
        timings.append((due + offset, ended - started, ended - due, ok))
        due += every
        time.sleep(max(0.0, due - time.perf_counter()))
    store.stop()
    print(json.dumps(timings), flush=True)


def percentiles(seconds: list[float]) -> str:
    """| p50 | p99 | max |, in milliseconds."""
    if not seconds:
        return "| - | - | - |"
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"| {statistics.median(ordered) * 1000:.2f} | {p99 * 1000:.2f} "
        f"| {ordered[-1] * 1000:.1f} |"
    )


@dataclass
class Run:
    """One big sync and what the reader and the small syncs saw meanwhile."""

    mode: str
    seconds: float
    scripts: list  # seconds each sync script of 0.2 ms or more ran in Redis (SLOWLOG)
    idle: list  # reader timings before the sync
    reads: list  # reader timings during the sync
    syncs: list  # small sync timings during the sync


def measure(members: int, every_ms: float, step_members: int, mode: str) -> Run:
    """A fresh redis-server, a 10,000-member segment, then the big sync, timed around."""
    from bench.load import RedisProcess
    from generated import SegmentChange, SyncRequest
    from service.redis.client import APPLY_TIMEOUT, connect
    from service.redis.store import RedisSegmentStore
    from service.store import Environment, StoreUnavailable

    folder = Path(tempfile.mkdtemp(prefix="bench-sdk-reads-"))
    redis_process = RedisProcess()
    url = redis_process.url
    environment = Environment("bench-env", "default", "production")

    def store() -> RedisSegmentStore:
        return RedisSegmentStore(
            connect(url), PREFIX, connect(url, APPLY_TIMEOUT), step_members=step_members
        )

    def one_change(cohort: str, keys: list[str]) -> SyncRequest:
        change = SegmentChange(cohort, cohort, None, tuple(keys), ())
        return SyncRequest("amplitude", environment.client_side_id, "user", (change,))

    reader_process = None
    try:
        writer = store()
        warm = [f"warm-{n:05d}" for n in range(WARM_MEMBERS)]
        writer.apply(environment, one_change("warm", warm))
        keys_file = folder / "keys.json"
        keys_file.write_text(json.dumps(warm))
        big = [f"user-{n:07d}" for n in range(members)]
        random.Random(4).shuffle(big)
        request = one_change("big", big)
        # Redis's own record of how long each script ran: those of 0.2 ms and more (not
        # 0: SLOWLOG also records each command a script runs, and would overflow)
        writer.client.config_set("slowlog-log-slower-than", 200)  # us
        writer.client.config_set("slowlog-max-len", 100_000)

        reader_process = subprocess.Popen(
            [sys.executable, "-m", "bench.sdk_reads", "--every-ms", str(every_ms),
             "--reader", url, str(keys_file)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert reader_process.stdout.readline().strip() == "ready"
        time.sleep(1.0)  # a second of lookups on an idle Redis first

        small_syncs: list[tuple[float, float, float, bool]] = []
        stop = threading.Event()

        def small_writer() -> None:
            other = store()
            n = 0
            while not stop.is_set():
                started_wall, started = time.time(), time.perf_counter()
                try:
                    other.apply(environment, one_change("small", [f"s-{n}"]))
                    ok = True
                except StoreUnavailable:
                    ok = False
                took = time.perf_counter() - started
                small_syncs.append((started_wall, took, took, ok))
                n += 1
                stop.wait(0.1)
            other.close()

        small = threading.Thread(target=small_writer)
        small.start()
        print(f"{mode}: syncing {members:,} members ...", file=sys.stderr, flush=True)
        writer.client.slowlog_reset()
        sync_start = time.time()
        writer.apply(environment, request)
        sync_end = time.time()
        scripts = [
            entry["duration"] / 1e6
            for entry in writer.client.slowlog_get(100_000)
            if entry["command"].startswith(b"EVALSHA")
        ]
        stop.set()
        small.join()
        reader_out, _ = reader_process.communicate("stop\n", timeout=120)
        reader_process = None
        timings = json.loads(reader_out.strip().splitlines()[-1])
        writer.close()
    finally:
        if reader_process is not None:
            reader_process.kill()
        redis_process.stop()
        shutil.rmtree(folder, ignore_errors=True)

    def during(rows: list) -> list:
        return [row for row in rows if sync_start <= row[0] <= sync_end]

    return Run(
        mode=mode,
        seconds=sync_end - sync_start,
        scripts=scripts,
        idle=[row for row in timings if row[0] < sync_start],
        reads=during(timings),
        syncs=during(small_syncs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--every-ms", type=float, default=10.0)
    parser.add_argument(
        "--mode",
        choices=["both", "steps", "one-script"],
        default="both",
        help="one-script: the whole request in one script (the store before steps)",
    )
    parser.add_argument(
        "--step-members",
        type=int,
        help="members per step (default: the store's STEP_MEMBERS)",
    )
    parser.add_argument(
        "--reader", nargs=2, metavar=("URL", "KEYS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.reader:
        reader(*args.reader, args.every_ms)
        return
    sys.path.insert(0, str(ROOT))
    from service.redis.steps import STEP_MEMBERS

    step = args.step_members or STEP_MEMBERS
    modes = {
        "one-script": ("one script (before)", 10**12),
        "steps": (f"steps of {step:,} (after)", step),
    }
    chosen = list(modes) if args.mode == "both" else [args.mode]
    runs = [
        measure(args.members, args.every_ms, modes[m][1], modes[m][0]) for m in chosen
    ]
    print(
        f"{args.members:,}-member sync on Redis; an SDK lookup due every "
        f"{args.every_ms:g} ms. Milliseconds: each call's own latency, and from when it "
        "was due (which also counts the reader waiting for a CPU)"
    )
    print()
    print("| apply | sync s | scripts >= 0.2 ms | p50 | p99 | longest |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for run in runs:
        print(
            f"| {run.mode} | {run.seconds:.1f} | {len(run.scripts)} "
            + percentiles(run.scripts)
        )
    print()
    print(
        "| apply | what | calls | failed | p50 | p99 | max "
        "| p50 from due | p99 from due | max from due |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for run in runs:
        for label, rows in (
            ("SDK lookups before the sync", run.idle),
            ("SDK lookups during the sync", run.reads),
            ("one-member syncs, during", run.syncs),
        ):
            failed = sum(1 for row in rows if not row[3])
            print(
                f"| {run.mode} | {label} | {len(rows)} | {failed} "
                + percentiles([r[1] for r in rows])[:-1]
                + percentiles([r[2] for r in rows])
            )


if __name__ == "__main__":
    main()
