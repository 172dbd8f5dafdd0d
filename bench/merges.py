"""What merging the SDKs' hash log costs as the index grows: two levels against one.

    ./dev run python -m bench.merges [--members 1000000 4000000] [--steps 30]

For each size, a fresh SQLite file gets that many random hashes in member_hashes, then
STEPS rounds of 20,000 new hashes logged as one commit and merged as the group writer
does (hashes.merge_step into member_hashes_recent, then fold steps while one is due,
each its own transaction), and, on a second fresh file, the same rounds merged straight
into member_hashes (the one-level design of schema 3, the same statement the recent level
replaced). Prints the milliseconds and the WAL bytes per round once the recent level has
reached its fold threshold (the steady state), each transaction's WAL checkpointed away
before the next. Never fails on a figure.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time

from service.sqlite import hashes
from service.sqlite.database import Database

ROWS = 20_000
# schema 3's merge, straight into member_hashes: the last operation per hash and segment
# (every row here adds, so its DELETE of removed pairs had nothing to do)
_DIRECT = (
    "INSERT OR IGNORE INTO member_hashes (context_hash, segment_id) "
    f"SELECT context_hash, segment_id FROM ({hashes._LAST_OPERATIONS}) WHERE added"
)


def fresh(members: int, rng: random.Random) -> tuple[Database, str]:
    folder = tempfile.mkdtemp(prefix="bench-merges-")
    db = Database(os.path.join(folder, "segments.db"))
    db.connection().execute("PRAGMA wal_autocheckpoint = 0")
    with db.write() as tx:
        tx.execute(
            "INSERT INTO segments (id, environment_id, key, name, context_kind, "
            "integration_key, cohort_id, member_count, created_at, updated_at) "
            "VALUES (1, 'e', 'k', 'n', 'user', 'amplitude', 'c', ?, 0, 0)",
            (members,),
        )
    for start in range(0, members, 500_000):
        rows = sorted(
            (rng.randbytes(32), 1) for _ in range(min(500_000, members - start))
        )
        with db.write() as tx:
            tx.executemany("INSERT INTO member_hashes VALUES (?, ?)", rows)
        truncate(db)
    return db, db.path + "-wal"


def truncate(db: Database) -> None:
    db.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")


def log_round(db: Database, rng: random.Random) -> None:
    digests = sorted(rng.randbytes(32) for _ in range(ROWS))
    with db.write() as tx:
        tx.execute(hashes._APPEND, (ROWS, b"".join(digests), 1, 1))
        hashes.record_commit(tx, 0)
    truncate(db)


def two_levels(members: int, steps: int) -> tuple[float, float, int]:
    rng = random.Random(1)
    db, wal = fresh(members, rng)
    level = hashes.recent_level(db.connection())
    seconds = wal_bytes = 0.0
    counted = 0
    folded = False
    for _ in range(steps):
        log_round(db, rng)
        started = time.perf_counter()
        with db.write() as tx:
            level = level.merged(hashes.merge_step(tx, ROWS))
        written = os.path.getsize(wal)
        truncate(db)
        while level.due():  # the writer's fold steps, one after another
            with db.write() as tx:
                level = hashes.fold_step(tx, level)
            folded = True
            written += os.path.getsize(wal)
            truncate(db)
        if folded:
            seconds += time.perf_counter() - started
            wal_bytes += written
            counted += 1
    db.close()
    return seconds / max(counted, 1), wal_bytes / max(counted, 1), counted


def one_level(members: int, steps: int) -> tuple[float, float, int]:
    rng = random.Random(1)
    db, wal = fresh(members, rng)
    seconds = wal_bytes = 0.0
    for _ in range(steps):
        log_round(db, rng)
        started = time.perf_counter()
        with db.write() as tx:
            tx.execute(_DIRECT, (2**62,))
            tx.execute("DELETE FROM member_hash_log")
            tx.execute("DELETE FROM member_hash_commits")
        seconds += time.perf_counter() - started
        wal_bytes += os.path.getsize(wal)
        truncate(db)
    db.close()
    return seconds / steps, wal_bytes / steps, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--members", type=int, nargs="+", default=[1_000_000, 4_000_000]
    )
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    print(f"per round of {ROWS:,} new hashes merged, in the steady state")
    print("| members | design | ms | MB of WAL | rounds counted |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for members in args.members:
        for name, measure in (("one level", one_level), ("two levels", two_levels)):
            seconds, wal_bytes, counted = measure(members, args.steps)
            print(
                f"| {members:,} | {name} | {seconds * 1000:.0f} | "
                f"{wal_bytes / 1e6:.1f} | {counted} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
