"""Large requests on Redis in bounded steps (service/redis/steps.py), on a real redis-server.

What an SDK may observe while a large request is in progress, checked with the real
Python SDK's Redis Big Segment store (`get_membership`, the call an SDK makes per
context): between every two steps, and from a thread polling meanwhile. And what makes
steps safe: every refusal before the first write, a lease that keeps other requests on
the segment waiting (a serial order), whole steps after a failure, a replay that
converges, and no script carrying more members than the bound (counted by Redis itself,
in its SLOWLOG). The latency readers see is measured in bench/sdk_reads.py, not here.
"""

from __future__ import annotations

import re
import threading
from hashlib import sha1

import pytest
from ldclient.integrations import Redis

from segment_sync_sdk.layout import context_hash
from service.redis import scripts, steps
from service.redis.client import APPLY_TIMEOUT, connect
from service.redis.steps import STEP_MEMBERS, SegmentBusy, request_digest
from service.redis.store import RedisSegmentStore
from service.store import ContextKindConflict, PartlyApplied, StoreUnavailable

from .test_store_contract import ENV, change, sync

PREFIX = "steps"


@pytest.fixture
def redis_url(redis_server, redis_db) -> str:
    return redis_server.url_of(redis_db)


def store_at(url: str, step_members: int = STEP_MEMBERS) -> RedisSegmentStore:
    return RedisSegmentStore(
        connect(url), PREFIX, connect(url, APPLY_TIMEOUT), step_members=step_members
    )


@pytest.fixture
def sdk_store(redis_url):
    """The Python SDK's own Redis Big Segment store on the same database and prefix."""
    store = Redis.new_big_segment_store(url=redis_url, prefix=PREFIX)
    yield store
    store.stop()


def sdk_included(sdk_store, ref: str, keys) -> dict[str, bool]:
    """What the SDK reads for each context key: is it in the segment of ref?"""
    return {
        key: bool((sdk_store.get_membership(context_hash(key)) or {}).get(ref))
        for key in keys
    }


def ref_of(store: RedisSegmentStore, key: str) -> str:
    return f"{key}.g{store.get_segment(ENV, key).generation}"


def test_an_sdk_sees_each_member_change_once_and_nothing_else(
    redis_url, sdk_store, monkeypatch
):
    monkeypatch.setattr(steps, "LEASE_WAIT", 120.0)  # however slow the machine
    store = store_at(redis_url, step_members=50)
    old = [f"old-{n:03d}" for n in range(100)]
    store.apply(ENV, sync(change("big", old)))  # 100 members: 2 steps already
    ref = ref_of(store, "amplitude-big")
    added = [f"new-{n:03d}" for n in range(500)]
    removed = old[:50]
    untouched = old[50:]
    before = {**dict.fromkeys(added, False), **dict.fromkeys(old, True)}
    after = {**dict.fromkeys(added, True), **dict.fromkeys(removed, False)}
    after.update(dict.fromkeys(untouched, True))
    seen: list[dict[str, bool]] = []
    other_done: list[int] = []
    waiting: list[threading.Thread] = []
    outcome: list[object] = []

    def small_request_on_this_segment() -> None:
        try:
            outcome.append(
                store.apply(ENV, sync(change("big", ["old-000"], ["new-000"])))
            )
        except Exception as error:  # reported below; a thread cannot fail the test
            outcome.append(error)

    def observe(step: steps.Step) -> None:
        state = sdk_included(sdk_store, ref, before)
        for key, included in state.items():  # before or after, never anything else
            assert included in (before[key], after[key]), key
        assert all(state[key] for key in untouched)
        if seen:  # a member that changed stays changed
            assert all(
                state[k] == after[k] for k, v in seen[-1].items() if v == after[k]
            )
        seen.append(state)
        changed = sum(state[k] != before[k] for k in before)
        assert store.get_segment(ENV, "amplitude-big").member_count == (
            100 + min(step.done, 500) - max(0, step.done - 500)
        )
        assert changed == step.done  # the step's members, no more, no fewer
        if step.done == 100:
            # a request on another segment runs between two steps...
            other_done.append(len(store.apply(ENV, sync(change("other", ["x"])))))
            # ...one on this segment waits for the lease, and lands after this one
            thread = threading.Thread(target=small_request_on_this_segment)
            thread.start()
            waiting.append(thread)
        elif waiting:
            assert waiting[0].is_alive()

    store.observe_step = observe
    results = store.apply(ENV, sync(change("big", added, removed)))
    assert [(r.added, r.removed) for r in results] == [(500, 50)]
    assert len(seen) == 11  # 500 adds and 50 removes in steps of 50
    assert other_done == [1]
    waiting[0].join(timeout=30)
    assert [type(result) for result in outcome] == [list], outcome
    # the waiting request came after: old-000 back in, new-000 out
    final = sdk_included(sdk_store, ref, before)
    assert final == {**after, "old-000": True, "new-000": False}
    assert store.get_segment(ENV, "amplitude-big").member_count == 550
    store.close()


def test_a_reader_polling_during_a_large_request_sees_no_flicker(redis_url, sdk_store):
    """A real concurrent reader: each member it watches changes at most once, no errors."""
    store = store_at(redis_url, step_members=100)
    store.apply(ENV, sync(change("polled")))
    ref = ref_of(store, "amplitude-polled")
    members = [f"user-{n:05d}" for n in range(5000)]
    watched = members[::250] + ["never"]
    histories: dict[str, list[bool]] = {key: [] for key in watched}
    done = threading.Event()
    errors: list[Exception] = []

    def poll() -> None:
        try:
            while not done.is_set():
                for key, included in sdk_included(sdk_store, ref, watched).items():
                    if not histories[key] or histories[key][-1] != included:
                        histories[key].append(included)
        except Exception as error:  # reported below; a thread cannot fail the test
            errors.append(error)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        store.apply(ENV, sync(change("polled", members)))
    finally:
        done.set()
        poller.join(timeout=30)
    assert errors == []
    for key in watched[:-1]:
        assert histories[key] in ([False, True], [True]), (key, histories[key])
    assert histories["never"] == [False]
    assert all(sdk_included(sdk_store, ref, watched[:-1]).values())
    store.close()


def test_a_refused_large_request_writes_nothing(redis_url, redis_server, redis_db):
    store = store_at(redis_url, step_members=10)
    store.apply(ENV, sync(change("accounts", ["a1"]), kind="account"))
    before = sorted(redis_server.client(redis_db).keys("*"))
    request = sync(
        change("new", [f"u{n}" for n in range(100)]),
        change("accounts", ["u1"]),
        kind="user",
    )
    with pytest.raises(ContextKindConflict):
        store.apply(ENV, request)
    assert sorted(redis_server.client(redis_db).keys("*")) == before
    store.close()


def test_a_failure_midway_leaves_whole_steps_and_a_replay_converges(
    redis_url, redis_server, redis_db, sdk_store
):
    store = store_at(redis_url, step_members=10)
    client = redis_server.client(redis_db)
    lease = store.lease_key(ENV, "amplitude-cut")
    members = [f"m{n:03d}" for n in range(95)]
    request = sync(change("cut", members))

    def take_over(step: steps.Step) -> None:
        if step.done == 30:  # as if the lease expired and another request took it
            client.set(lease, "another request")

    store.observe_step = take_over
    with pytest.raises(PartlyApplied, match="retry it to apply the rest"):
        store.apply(ENV, request)
    ref = ref_of(store, "amplitude-cut")
    assert sum(sdk_included(sdk_store, ref, members).values()) == 30  # 3 whole steps
    assert store.get_segment(ENV, "amplitude-cut").member_count == 30
    assert client.get(lease) == b"another request"  # not ours: left alone
    client.delete(lease)  # that request is done
    store.observe_step = None
    store.apply(ENV, request)
    assert all(sdk_included(sdk_store, ref, members).values())
    assert store.members(ENV, "amplitude-cut", 1000) == members
    assert client.keys(f"{PREFIX}:lease:*") == []
    store.close()


def test_a_replay_takes_over_a_crashed_attempts_lease_others_wait(
    redis_url, redis_server, redis_db, monkeypatch
):
    monkeypatch.setattr(steps, "LEASE_WAIT", 0.0)  # refuse at once instead of waiting
    store = store_at(redis_url, step_members=10)
    store.apply(ENV, sync(change("crashed", ["first"])))
    request = sync(change("crashed", [f"m{n}" for n in range(50)]))
    # what a service killed mid-request leaves behind: its lease, for up to LEASE_MS
    client = redis_server.client(redis_db)
    lease = store.lease_key(ENV, "amplitude-crashed")
    client.set(lease, request_digest(ENV, request), px=60_000)
    with pytest.raises(SegmentBusy, match="nothing of this request was applied"):
        store.apply(ENV, sync(change("crashed", ["small"])))  # another request
    assert isinstance(SegmentBusy("k"), StoreUnavailable)  # a 503 for the partner
    store.apply(ENV, request)  # the same request again: no wait
    assert store.get_segment(ENV, "amplitude-crashed").member_count == 51
    assert client.get(lease) is None
    store.apply(ENV, sync(change("crashed", ["small"])))  # and now the other one
    assert store.is_included(ENV, "amplitude-crashed", "small")
    store.close()


def argument_count(entry: dict) -> int:
    """Arguments of a SLOWLOG entry: Redis keeps 32, the last saying how many more."""
    words = entry["command"].split(b" ")
    more = re.fullmatch(rb".*\.\.\. \((\d+) more arguments\)", entry["command"])
    return 31 + int(more.group(1)) if more else len(words)


def test_no_script_carries_more_members_than_the_bound(redis_server, redis_url):
    """Counted by Redis: every EVALSHA of a 4,700-member request, from its SLOWLOG."""
    assert STEP_MEMBERS == 500  # the figures below
    client = redis_server.client()
    saved = client.config_get("slowlog-*")
    client.config_set("slowlog-log-slower-than", 0)  # log every command
    client.config_set(
        "slowlog-max-len", 100_000
    )  # scripts' own commands are logged too
    client.slowlog_reset()
    store = store_at(redis_url)
    try:
        added = [f"user-{n:05d}" for n in range(3500)]
        store.apply(
            ENV, sync(change("bounded", added, [f"gone-{n}" for n in range(1200)]))
        )
        entries = [
            e
            for e in client.slowlog_get(100_000)
            if e["command"].startswith(b"EVALSHA")
        ]
    finally:
        client.config_set("slowlog-log-slower-than", saved["slowlog-log-slower-than"])
        client.config_set("slowlog-max-len", saved["slowlog-max-len"])
        store.close()
    kinds = {sha1(script.encode()).hexdigest().encode(): name for name, script in (
        ("apply", scripts.APPLY), ("step", scripts.STEP), ("release", scripts.RELEASE)
    )}  # fmt: skip
    by_kind: dict[str, list[dict]] = {}
    for entry in entries:
        by_kind.setdefault(kinds[entry["command"].split(b" ")[1]], []).append(entry)
    assert sorted(by_kind) == ["apply", "release", "step"]
    assert [len(by_kind["apply"]), len(by_kind["release"])] == [1, 1]
    # the first script has no members: its 3 + 9 + 8 arguments for one change
    assert argument_count(by_kind["apply"][0]) == 20
    # EVALSHA sha numkeys, STEP's 8 arguments, then two per member
    members = sorted((argument_count(e) - 3 - 8) // 2 for e in by_kind["step"])
    assert members == [200] + [500] * 9  # 3,500 adds, then 1,200 removes
    assert max(members) <= STEP_MEMBERS
