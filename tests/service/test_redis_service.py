"""The service on a real Redis: "synchronized on", two processes, Redis killed mid-request.

Every test starts `python -m service serve --store redis://...` as a subprocess against a
redis-server started by scripts/redis-server.sh; nothing stands in for Redis.
"""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from segment_sync_sdk.layout import context_hash
from service.redis.steps import STEP_MEMBERS

from .helpers import Service, all_members, amplitude, cli, segments_path, wait_until
from .redis_server import RedisServer, free_port, unavailable_reason

INGEST = "/api/v2/segment-targets/amplitude"
PREFIX = "launchdarkly"  # what the SDKs read by default


def start(tmp_path: Path, url: str, *args: str) -> Service:
    return Service(
        tmp_path / "unused.db", "--store", url, "--key-prefix", PREFIX, *args
    )


def redis_cli(tmp_path: Path, url: str, *args: str):
    """`python -m service ARGS --store url`: token and environment commands on Redis."""
    return cli(tmp_path / "unused.db", *args, "--store", url, "--key-prefix", PREFIX)


# --- the SDKs' view (real SDKs evaluating: test_sdk_end_to_end.py)


def test_synchronized_on_is_kept_fresh(tmp_path, redis_server, redis_db):
    service = start(tmp_path, redis_server.url_of(redis_db))
    try:
        client = redis_server.client(redis_db)
        key = f"{PREFIX}:big_segments_synchronized_on"
        wait_until(lambda: client.get(key) is not None)
        first = int(client.get(key))
        wait_until(lambda: int(client.get(key)) > first, timeout=15)
        assert abs(int(client.get(key)) - time.time() * 1000) < 10_000
    finally:
        service.stop()


# --- two processes over one Redis are one service


@pytest.fixture
def two(tmp_path, redis_server, redis_db):
    url = redis_server.url_of(redis_db)
    first = start(tmp_path, url, "--rate-limit", "30/600")
    second = None
    try:
        second = start(tmp_path, url, "--rate-limit", "30/600")
        yield url, first, second
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_posts_spread_over_two_processes_land_in_one_state(tmp_path, two):
    url, first, second = two
    client_id, token = first.welcome()
    assert "client-side id" not in second.stdout.text()  # one bootstrap for both

    with first.client(token) as http:
        body = amplitude(client_id, "shared", [f"old-{n}" for n in range(20)])
        assert http.post(INGEST, json=body).status_code == 204

    def post(index: int) -> int:
        """Adds 50 members of its own and removes one old member, on either process."""
        service = (first, second)[index % 2]
        added = [f"u{index}-{n}" for n in range(50)]
        removed = [f"old-{index}"]
        with service.client(token) as http:
            body = amplitude(client_id, "shared", added, removed)
            return http.post(INGEST, json=body).status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(post, range(20))) == [204] * 20
    expected = sorted(f"u{index}-{n}" for index in range(20) for n in range(50))
    for service in (first, second):
        with service.client(token) as http:
            assert all_members(http, "amplitude-shared") == expected
            segment = http.get(segments_path() + "/amplitude-shared").json()
            assert segment["memberCount"] == len(expected)


def test_a_token_revoked_is_refused_by_both(tmp_path, two):
    url, first, second = two
    first.welcome()
    result = redis_cli(tmp_path, url, "token", "create", "--role", "reader")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    for service in (first, second):
        with service.client(token) as http:
            assert http.get(segments_path()).status_code == 200
    token_id = token.split("-")[1]
    result = redis_cli(tmp_path, url, "token", "revoke", token_id)
    assert result.returncode == 0, result.stderr
    # each process polls the registry's generation twice a second (service/cache.py)
    for service in (first, second):
        with service.client(token) as http:

            def refused() -> bool:
                response = http.get(segments_path())
                return (response.status_code, response.json().get("code")) == (
                    403,
                    "revoked_token",
                )

            wait_until(refused, timeout=5)
            ingest = http.post(INGEST, json=amplitude("x", "c", ["u"]))
            assert (ingest.status_code, ingest.json()["code"]) == (403, "revoked_token")


def test_the_rate_limit_is_shared(tmp_path, two):
    url, first, second = two
    first.welcome()
    result = redis_cli(tmp_path, url, "token", "create", "--role", "reader")
    token = result.stdout.strip()
    statuses = []
    for index in range(30):  # 30 per 600 s, spread over both processes
        with (first, second)[index % 2].client(token) as http:
            statuses.append(http.get(segments_path()).status_code)
    assert statuses == [200] * 30
    for service in (first, second):
        with service.client(token) as http:
            response = http.get(segments_path())
            assert response.status_code == 429
            assert int(response.headers["Retry-After"]) > 500


# --- Redis killed mid-run


def include_keys(client) -> int:
    return sum(1 for _ in client.scan_iter(f"{PREFIX}:big_segment_include:*", 10_000))


def wait_until_stored(server: RedisServer, key: str) -> None:
    """Return once the sorted set at key has members: the request's steps are landing."""
    probe = redis.Redis(port=server.port, socket_timeout=1, retry=Retry(NoBackoff(), 0))
    deadline = time.monotonic() + 30
    while probe.zcard(key) == 0:
        assert time.monotonic() < deadline, "the request's steps never landed"
        time.sleep(0.002)
    probe.close()


def test_redis_killed_mid_request_is_a_503_and_a_replay_converges(tmp_path):
    """A large request lands in steps (service/redis/steps.py): Redis killed between two,
    the partner hears 503, what landed is whole steps, and the replay converges."""
    if unavailable_reason() is not None:
        pytest.skip(unavailable_reason())
    redis_server = RedisServer(tmp_path / "redis-data")
    service = None
    try:
        service = start(
            tmp_path, redis_server.url, "--rate-limit", "off", "--max-body", "99999999"
        )
        client_id, token = service.welcome()
        members = [f"member-{n:06d}" for n in range(100_000)]
        big = amplitude(client_id, "big", members)
        answers: list = []

        def post_big() -> None:
            with service.client(token) as http:
                started = time.monotonic()
                answers.append(http.post(INGEST, json=big))
                answers.append(time.monotonic() - started)

        poster = threading.Thread(target=post_big)
        poster.start()
        members_key = f"{PREFIX}:members:{client_id}:amplitude-big"
        wait_until_stored(redis_server, members_key)  # its first steps are in
        redis_server.kill()
        poster.join(timeout=60)
        response, seconds = answers
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "store_unavailable"
        assert "part of it is applied; retry it" in response.json()["message"]
        assert int(response.headers["Retry-After"]) > 0
        assert seconds < 30

        # while Redis is down: a quick, clear 503 on every route, never a 500 or a hang
        with service.client(token) as http:
            started = time.monotonic()
            small = http.post(INGEST, json=amplitude(client_id, "small", ["u1"]))
            assert small.status_code == 503
            assert small.json()["code"] == "store_unavailable"
            assert "nothing was applied" in small.json()["message"]
            assert int(small.headers["Retry-After"]) > 0
            assert http.get(segments_path()).status_code == 503
            assert http.get("/healthz").status_code == 503
            assert time.monotonic() - started < 10
        assert "Traceback" not in service.stderr.text()

        # restarted on the same data: whole steps of the request, each with its count
        # and what the SDKs read, and not all of them
        redis_server.start()
        client = redis_server.client()
        stored = client.zcard(members_key)
        assert stored % STEP_MEMBERS == 0 and stored < len(members)
        assert include_keys(client) == stored
        with service.client(token) as http:
            detail = http.get(segments_path() + "/amplitude-big").json()
            assert detail["memberCount"] == stored
            # the replay takes over the lease the failed attempt left (same request)
            for body in (big, amplitude(client_id, "small", ["u1"])):
                assert http.post(INGEST, json=body).status_code == 204
            assert all_members(http, "amplitude-big") == members
            detail = http.get(segments_path() + "/amplitude-big").json()
            assert detail["memberCount"] == len(members)
        assert include_keys(client) == len(members) + 1
        segment = f"{PREFIX}:segment:{client_id}:amplitude-big"
        ref = "amplitude-big.g" + client.hget(segment, "generation").decode()
        include = f"{PREFIX}:big_segment_include:{context_hash('member-000042')}"
        assert client.smembers(include) == {ref.encode()}
        assert client.keys(f"{PREFIX}:lease:*") == []  # released at the end
    finally:
        if service is not None:
            service.stop()
        redis_server.stop()


def test_serve_without_redis_says_so_and_exits(tmp_path):
    port = free_port()  # nothing listens there
    result = cli(
        tmp_path / "unused.db", "serve", "--store", f"redis://127.0.0.1:{port}/0"
    )
    assert result.returncode == 1
    assert "error: Redis unreachable" in result.stderr
    assert "--store" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_store_url_that_is_not_redis_is_refused(tmp_path):
    result = cli(tmp_path / "unused.db", "token", "list", "--store", "mysql://x")
    assert result.returncode == 2
    assert "is not a redis:// or rediss:// URL" in result.stderr


def test_a_redis_that_hangs_is_a_503_within_seconds(tmp_path):
    if unavailable_reason() is not None:
        pytest.skip(unavailable_reason())
    redis_server = RedisServer(tmp_path / "redis-data")
    service = None
    try:
        service = start(tmp_path, redis_server.url, "--rate-limit", "off")
        client_id, token = service.welcome()
        body = amplitude(client_id, "c1", ["u1"])
        redis_server.process.send_signal(signal.SIGSTOP)  # up, but answers nothing
        try:
            with service.client(token) as http:
                started = time.monotonic()
                response = http.post(INGEST, json=body)
                assert response.status_code == 503
                assert response.json()["code"] == "store_unavailable"
                assert time.monotonic() - started < 15
        finally:
            redis_server.process.send_signal(signal.SIGCONT)
        with service.client(token) as http:
            assert http.post(INGEST, json=body).status_code == 204
            assert all_members(http, "amplitude-c1") == ["u1"]
    finally:
        if service is not None:
            service.stop()
        redis_server.stop()


def test_token_and_environment_commands_on_redis(tmp_path, redis_server, redis_db):
    url = redis_server.url_of(redis_db)
    added = redis_cli(tmp_path, url, "environment", "add", "env-a", "shop", "prod")
    assert added.returncode == 0, added.stderr
    again = redis_cli(tmp_path, url, "environment", "add", "env-b", "shop", "prod")
    assert again.returncode == 1
    assert 'project "shop" already has environment "prod"' in again.stderr
    listed = redis_cli(tmp_path, url, "environment", "list")
    assert "env-a" in listed.stdout and "env-b" not in listed.stdout
    created = redis_cli(tmp_path, url, "token", "create", "--actions", "viewSegment")
    token_id = created.stdout.strip().split("-")[1]
    tokens = redis_cli(tmp_path, url, "token", "list").stdout
    assert token_id in tokens and "custom: viewSegment" in tokens
    assert created.stdout.strip() not in tokens
    missing = redis_cli(tmp_path, url, "token", "revoke", "000000000000")
    assert missing.returncode == 1
    assert 'no token with id "000000000000"' in missing.stderr
