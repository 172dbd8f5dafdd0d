"""Real LaunchDarkly SDKs evaluate flags on synced segments, with nothing written by hand.

A flag with a `segmentMatch` rule on a synced segment; the segment's definition taken from
the service (GET .../sdk-segments, `export-sdk`, or Redis with `--sdk-definitions`); its
members read where the service keeps them. A partner adds and removes members over HTTP
and each SDK's evaluation flips, with the reason's big-segments status HEALTHY:

- the Python SDK: file data source + its Redis Big Segment store; daemon mode (Redis
  feature store) + Redis; file data source + segment_sync_sdk's SQLite store;
- the Node SDK (@launchdarkly/node-server-sdk with -redis, exact versions in
  tests/service/node/package-lock.json): file data source, TestData and daemon mode,
  each with its Redis Big Segment store;
- the README walkthrough, run as written: `export-sdk` then examples/evaluate.py, on the
  SQLite file and on Redis.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ldclient.feature_store import CacheConfig
from ldclient.integrations import Files, Redis

from segment_sync_sdk.layout import segment_definition
from segment_sync_sdk.sqlite import SqliteBigSegmentStore

from .helpers import ROOT, Service, amplitude, cli, create_token, segments_path
from .sdks import (
    NodeSdk,
    flag_on_segment,
    node_or_skip,
    python_evaluate,
    python_sdk,
    wait_for_values,
    write_json,
)

INGEST = "/api/v2/segment-targets/amplitude"
PREFIX = "launchdarkly"  # what the SDKs read by default
REDIS_DB = 0  # of the session's redis-server: the redis_db fixture never hands it out


@pytest.fixture(scope="module")
def on_redis(redis_server, tmp_path_factory):
    """One service over Redis (database 0, default prefix) with --sdk-definitions."""
    client = redis_server.client(REDIS_DB)
    client.flushdb()
    url = redis_server.url_of(REDIS_DB)
    folder = tmp_path_factory.mktemp("sdk-redis")
    service = Service(
        folder / "unused.db",
        *("--store", url, "--sdk-definitions", "default/production"),
        *("--rate-limit", "off"),
    )
    try:
        client_id, token = service.welcome()
        with service.client(token) as http:
            yield url, service, client_id, http
    finally:
        service.stop()
        client.flushdb()
        client.close()


def sync(http, client_id: str, cohort: str, added=(), removed=()) -> None:
    response = http.post(INGEST, json=amplitude(client_id, cohort, added, removed))
    assert response.status_code == 204, response.text


def definitions(http, **environment) -> dict:
    """GET .../sdk-segments: {"segments": {key: definition}}."""
    path = segments_path(**environment).removesuffix("/segments") + "/sdk-segments"
    response = http.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def flips(evaluate, sync_more) -> None:
    """In: a, b; out: c. Then c is added and a removed: the evaluations follow, HEALTHY."""
    answers = wait_for_values(evaluate, {"a": True, "b": True, "c": False})
    assert answers["a"]["reason"]["kind"] == "RULE_MATCH"
    assert answers["c"]["reason"]["kind"] == "FALLTHROUGH"
    sync_more(added=["c"], removed=["a"])
    answers = wait_for_values(evaluate, {"a": False, "b": True, "c": True})
    for answer in answers.values():
        assert answer["reason"]["bigSegmentsStatus"] == "HEALTHY"


# --- on Redis


def test_python_sdk_file_data_source_and_redis(on_redis, tmp_path):
    url, service, client_id, http = on_redis
    sync(http, client_id, "py-file", ["a", "b"])
    segments = definitions(http)
    assert set(segments["segments"]) >= {"amplitude-py-file"}
    flags = {"flags": {"beta": flag_on_segment("beta", "amplitude-py-file")}}
    paths = [str(write_json(tmp_path / "flags.json", flags))]
    paths.append(str(write_json(tmp_path / "segments.json", segments)))
    sdk = python_sdk(
        Redis.new_big_segment_store(url=url, prefix=PREFIX),
        update_processor_class=Files.new_data_source(paths=paths),
    )
    try:
        flips(
            python_evaluate(sdk, "beta"),
            lambda **change: sync(http, client_id, "py-file", **change),
        )
        status = sdk.big_segment_store_status_provider.status
        assert (status.available, status.stale) == (True, False)
    finally:
        sdk.close()


def test_python_sdk_daemon_mode_reads_the_definitions_the_service_writes(
    on_redis, redis_server
):
    url, service, client_id, http = on_redis
    # flags are someone else's: put one where a Relay Proxy would
    client = redis_server.client(REDIS_DB)
    flag = flag_on_segment("daemon-beta", "amplitude-py-daemon")
    client.hset(f"{PREFIX}:features", "daemon-beta", json.dumps(flag))
    sdk = python_sdk(
        Redis.new_big_segment_store(url=url, prefix=PREFIX),
        use_ldd=True,
        feature_store=Redis.new_feature_store(
            url=url, prefix=PREFIX, caching=CacheConfig.disabled()
        ),
    )
    try:
        evaluate = python_evaluate(sdk, "daemon-beta")
        assert evaluate("a")["value"] is False  # no segment yet
        sync(http, client_id, "py-daemon", ["a", "b"])  # created: its definition too
        flips(evaluate, lambda **change: sync(http, client_id, "py-daemon", **change))
    finally:
        sdk.close()
    stored = client.hget(f"{PREFIX}:segments", "amplitude-py-daemon")
    generation = http.get(segments_path() + "/amplitude-py-daemon").json()["generation"]
    assert json.loads(stored) == segment_definition(
        "amplitude-py-daemon", "user", generation
    )
    assert client.exists(f"{PREFIX}:$inited")
    client.close()


@pytest.mark.parametrize("mode", ["file", "testdata", "daemon"])
def test_node_sdk(on_redis, redis_server, tmp_path, mode):
    node_or_skip()
    url, service, client_id, http = on_redis
    cohort = f"node-{mode}"
    segment_key = f"amplitude-{cohort}"
    flag = flag_on_segment(f"{cohort}-beta", segment_key)
    sync(http, client_id, cohort, ["a", "b"])
    definition = definitions(http)["segments"][segment_key]
    config = {
        "mode": mode,
        "redis": {"host": "127.0.0.1", "port": redis_server.port, "db": REDIS_DB},
        "prefix": PREFIX,
    }
    if mode == "file":
        flags = write_json(tmp_path / "flags.json", {"flags": {flag["key"]: flag}})
        segments = write_json(tmp_path / "segments.json", definitions(http))
        config["paths"] = [str(flags), str(segments)]
    elif mode == "testdata":
        config.update(flag=flag, segment=definition)
    else:
        client = redis_server.client(REDIS_DB)
        client.hset(f"{PREFIX}:features", flag["key"], json.dumps(flag))
        client.close()
    node = NodeSdk(config)
    try:
        flips(
            node.evaluator(flag["key"]),
            lambda **change: sync(http, client_id, cohort, **change),
        )
        assert node.ask({"status": True}) == {"available": True, "stale": False}
    finally:
        node.close()


# --- on the SQLite file


def test_python_sdk_with_the_sqlite_big_segment_store(service, tmp_path):
    client_side_id = "sdk-sqlite-env"
    added = cli(service.db, "environment", "add", client_side_id, "sdk", "sqlite")
    assert added.returncode == 0, added.stderr
    token = create_token(service.db, "--role", "writer")
    with service.client(token) as http:
        sync(http, client_side_id, "sqlite-beta", ["a", "b"])
        exported = tmp_path / "segments.json"
        result = cli(
            service.db,
            "export-sdk",
            "--environment",
            "sdk/sqlite",
            "--out",
            str(exported),
        )
        assert result.returncode == 0, result.stderr
        flag = flag_on_segment("beta", "amplitude-sqlite-beta")
        flags = write_json(tmp_path / "flags.json", {"flags": {"beta": flag}})
        store = SqliteBigSegmentStore(service.db)
        sdk = python_sdk(
            store,
            update_processor_class=Files.new_data_source(
                paths=[str(flags), str(exported)]
            ),
        )
        try:
            flips(
                python_evaluate(sdk, "beta"),
                lambda **change: sync(http, client_side_id, "sqlite-beta", **change),
            )
            status = sdk.big_segment_store_status_provider.status
            assert (status.available, status.stale) == (True, False)
        finally:
            sdk.close()


# --- the README walkthrough, as written


def run_example(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python examples/evaluate.py ARGS` as the README runs it."""
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "evaluate.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def evaluate_example(*args: str, cwd: Path) -> list[str]:
    """run_example's output lines, once it succeeded."""
    result = run_example(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def paste_amplitude_line(service: Service) -> None:
    """Run the greeting's Amplitude curl line, as a newcomer pastes it."""
    line = service.stdout.wait_for(r"^(curl .*/segment-targets/amplitude .*)$").group(1)
    result = subprocess.run(
        ["sh", "-c", line], capture_output=True, text=True, timeout=30
    )
    assert re.match(r"HTTP/1\.1 204", result.stdout), result


EXPECTED = [
    "user-1: power-users-beta = true (RULE_MATCH, big segments HEALTHY)",
    "user-3: power-users-beta = false (FALLTHROUGH, big segments HEALTHY)",
]


def test_readme_walkthrough_on_sqlite(tmp_path):
    service = Service(tmp_path / "segments.db")
    try:
        service.welcome()
        paste_amplitude_line(service)
        out = str(tmp_path / "segments.json")
        exported = cli(tmp_path / "segments.db", "export-sdk", "--out", out)
        assert exported.returncode == 0, exported.stderr
        lines = evaluate_example("user-1", "user-3", cwd=tmp_path)
        assert lines == EXPECTED
    finally:
        service.stop()


def test_readme_walkthrough_on_redis(on_redis, tmp_path):
    url, service, client_id, http = on_redis
    paste_amplitude_line(service)
    out = str(tmp_path / "segments.json")
    exported = cli(tmp_path / "unused.db", "export-sdk", "--store", url, "--out", out)
    assert exported.returncode == 0, exported.stderr
    assert (
        evaluate_example("--redis", url, "user-1", "user-3", cwd=tmp_path) == EXPECTED
    )
    daemon = evaluate_example(
        "--redis", url, "--daemon", "user-1", "user-3", cwd=tmp_path
    )
    assert daemon == EXPECTED


@pytest.mark.parametrize(
    "args, names",
    [
        (["user-1"], "--sqlite segments.db: no such file"),
        (["--sqlite", "{db}", "user-1"], "--segments segments.json: no such file"),
    ],
)
def test_the_example_names_a_missing_step_in_one_line(tmp_path, args, names):
    """A step of the walkthrough skipped: one line that says which, not the SDK's traceback."""
    (tmp_path / "present.db").write_bytes(b"")
    args = [arg.format(db=tmp_path / "present.db") for arg in args]
    result = run_example(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert names in result.stderr and "Traceback" not in result.stderr
