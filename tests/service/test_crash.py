"""kill -9 in the middle of a large apply: after a restart the segment holds all of the
request or none of it, and a replay gives the full state."""

from __future__ import annotations

import sqlite3
import threading

import httpx

from .helpers import Service, all_members, heap, segments_path

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
