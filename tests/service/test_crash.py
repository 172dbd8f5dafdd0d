"""kill -9 in the middle of a large apply, and in the middle of batches of concurrent
requests: after a restart each request is there whole or not at all, every acknowledged
one is there, and a replay gives the full state."""

from __future__ import annotations

import sqlite3
import threading

import httpx

from .helpers import Service, all_members, amplitude, heap, segments_path

MEMBERS = 200_000


def test_kill_9_during_a_large_apply_then_restart_and_replay(tmp_path):
    db = tmp_path / "crash.db"
    users = [f"user-{i:06d}" for i in range(MEMBERS)]
    body = heap("CLIENT", 42, added=users)
    first = Service(db)
    client_id, token = first.welcome()
    body["parameters"]["environment_id"] = client_id

    def post_and_expect_no_answer() -> None:
        try:
            with first.client(token) as client:
                client.post("/api/v2/segment-targets/heap-inbound", json=body)
        except httpx.HTTPError:
            pass  # the server dies under this request

    sender = threading.Thread(target=post_and_expect_no_answer)
    sender.start()
    try:
        # The store logs progress inside its open transaction; kill at the first line,
        # with three quarters of the rows still to write.
        first.stderr.wait_for(
            rf"segment heap-inbound-42: 50000 of {MEMBERS} members added \(not committed"
        )
    finally:
        first.kill()
        sender.join(timeout=30)

    second = Service(db, "--rate-limit", "off")
    try:
        assert second.stdout.lines == []  # not a first start: no new token printed
        with second.client(token) as client:
            segment = client.get(segments_path() + "/heap-inbound-42")
            if segment.status_code == 404:
                outcome = "none"
            else:  # the commit beat the kill: then all of it landed
                assert segment.json()["memberCount"] == MEMBERS
                outcome = "all"
            assert member_rows(db) == (0 if outcome == "none" else MEMBERS)

            replay = client.post("/api/v2/segment-targets/heap-inbound", json=body)
            assert replay.status_code == 200, replay.text
            assert replay.json()["status"] == "success"
            assert (
                client.get(segments_path() + "/heap-inbound-42").json()["memberCount"]
                == MEMBERS
            )
            assert all_members(client, "heap-inbound-42") == users
        assert member_rows(db) == MEMBERS
    finally:
        second.stop()
    print(f"kill -9 mid-apply left {outcome} of the request")


def member_rows(db) -> int:
    """Rows in the members table, read from the file directly (no service involved)."""
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM members").fetchone()[0]


SENDERS = 12
PER_REQUEST = 1000


def test_kill_9_during_batches_of_concurrent_requests(tmp_path):
    """Many requests in flight, batched together: acknowledged ones all survive a kill
    -9, and every request is in the file whole or not at all."""
    db = tmp_path / "batches.db"
    service = Service(db, "--rate-limit", "off")
    client_id, token = service.welcome()
    acknowledged: set[str] = set()
    sent: set[str] = set()
    stop = threading.Event()
    enough = threading.Event()
    failures: list[str] = []

    def sender(n: int) -> None:
        try:
            send(n)
        except Exception as error:  # reported by the test, not lost in a thread
            failures.append(repr(error))
            enough.set()

    def send(n: int) -> None:
        with service.client(token) as client:
            for i in range(10_000):
                if stop.is_set():
                    return
                request = f"t{n:02d}r{i:04d}"
                users = [f"{request}m{j:04d}" for j in range(PER_REQUEST)]
                sent.add(request)
                try:
                    response = client.post(
                        "/api/v2/segment-targets/amplitude",
                        json=amplitude(client_id, "batch", users),
                    )
                except httpx.HTTPError:
                    return  # the server died under this request
                if response.status_code != 204:
                    raise AssertionError(f"{response.status_code}: {response.text}")
                acknowledged.add(request)
                if len(acknowledged) >= 40:
                    enough.set()

    senders = [threading.Thread(target=sender, args=(n,)) for n in range(SENDERS)]
    for thread in senders:
        thread.start()
    try:
        assert enough.wait(timeout=120), "the senders never got 40 answers"
        assert failures == []
        service.kill()  # with the other senders' requests in the writer's hands
        killed_after = set(acknowledged)
    finally:
        stop.set()
        service.kill()
        for thread in senders:
            thread.join(timeout=30)

    # after the crash, straight from the file: whole requests only, every answered one
    restarted = Service(db, "--rate-limit", "off")
    restarted.stop()  # a start recovers the WAL as any later reader would
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT substr(context_key, 1, 8), COUNT(*) FROM members GROUP BY 1"
        ).fetchall()
        (count,) = conn.execute(
            "SELECT member_count FROM segments WHERE key = 'amplitude-batch'"
        ).fetchone()
    stored = dict(rows)
    assert set(stored.values()) == {PER_REQUEST}, "a request was half applied"
    assert killed_after <= set(stored), "an acknowledged request was lost"
    assert set(stored) <= sent
    assert count == sum(stored.values())  # the kept count matches the rows
    print(
        f"kill -9 with {len(sent - killed_after)} requests unanswered: "
        f"{len(stored)} whole requests stored, {len(killed_after)} acknowledged"
    )
