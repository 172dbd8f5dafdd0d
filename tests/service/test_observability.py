"""JSON request logs, X-Request-Id and /metrics, on a real server logging in JSON.

Metrics are read with prometheus-client's own parser of the text format (so the format
is checked too), as differences between two scrapes around what a test does.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service import metrics
from service.http.request_id import request_id_of

from .helpers import Service, amplitude, create_token, segments_path, wait_until

INGEST = "/api/v2/segment-targets/"
INGEST_ROUTE = "/api/v2/segment-targets/{integrationKey}"
SEGMENT_ROUTE = (
    "/api/v2/projects/{projectKey}/environments/{environmentKey}/segments/{segmentKey}"
)
LIMIT = 5  # requests per token per hour on this module's server
HEX_ID = re.compile(r"[0-9a-f]{32}")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Service]:
    db = tmp_path_factory.mktemp("observed") / "segments.db"
    server = Service(
        db, "--log-format", "json", "--rate-limit", f"{LIMIT}/3600", "--busy-timeout",
        "0.2",
    )  # fmt: skip
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client_id(server) -> str:
    return server.welcome()[0]


def writer(server) -> httpx.Client:
    """A client with a fresh writer token: LIMIT requests of its own."""
    return server.client(create_token(server.db, "--role", "writer"))


def json_lines(server) -> list[dict]:
    """Every line the server wrote on stderr, each one a JSON object."""
    return [json.loads(line) for line in server.stderr.lines]


def request_line(server, request_id: str) -> dict:
    """The request log's line of one request."""
    pattern = f'"request_id": "{re.escape(request_id)}".*"method"'
    server.stderr.wait_for(pattern, timeout=10)
    (line,) = [
        entry
        for entry in json_lines(server)
        if entry.get("request_id") == request_id and "method" in entry
    ]
    return line


def scrape(server) -> dict[tuple[str, frozenset], float]:
    """(sample name, labels) -> value, from /metrics parsed as Prometheus parses it."""
    with server.client() as client:  # no token: /metrics needs none
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_every_line_is_json_and_each_request_has_one_object(server, client_id):
    body = amplitude(client_id, "logged", added=["u1", "u2", "u3"])
    with writer(server) as client:
        response = client.post(INGEST + "amplitude", json=body)
        token_id = client.headers["Authorization"].split("-")[1]
    assert response.status_code == 204
    line = request_line(server, response.headers["X-Request-Id"])
    assert ISO.fullmatch(line.pop("time"))
    assert line.pop("duration_ms") > 0
    assert line.pop("message").startswith("127.0.0.1 POST /api/v2/segment-targets/")
    assert line == {
        "level": "info",
        "logger": "service.http",
        "method": "POST",
        "path": "/api/v2/segment-targets/amplitude",
        "status": 204,
        "integration": "amplitude",
        "added": 3,
        "removed": 0,
        "token_id": token_id,
        "request_id": response.headers["X-Request-Id"],
        "client": "127.0.0.1",
    }
    lines = json_lines(server)  # every line, uvicorn's and the settings' too
    assert any(entry["message"].startswith("settings: ") for entry in lines)
    assert client.headers["Authorization"] not in server.stderr.text()


def test_members_added_and_removed_are_those_really_changed(server, client_id):
    with writer(server) as client:
        first = client.post(
            INGEST + "amplitude",
            json=amplitude(client_id, "churn", added=["a", "b"], removed=["c"]),
        )
        again = client.post(
            INGEST + "amplitude",
            json=amplitude(client_id, "churn", added=["a"], removed=["b", "c"]),
        )
    assert (first.status_code, again.status_code) == (204, 204)
    first_line = request_line(server, first.headers["X-Request-Id"])
    again_line = request_line(server, again.headers["X-Request-Id"])
    # c was never in: nothing removed; then a was in already and only b goes
    assert (first_line["added"], first_line["removed"]) == (2, 0)
    assert (again_line["added"], again_line["removed"]) == (0, 1)


def test_a_sane_request_id_is_echoed_and_others_replaced(server):
    with server.client() as client:
        echoed = client.get("/livez", headers={"X-Request-Id": "partner-42.a:b"})
        made = [client.get("/livez") for _ in range(2)]
        too_long = client.get("/livez", headers={"X-Request-Id": "x" * 129})
        spaced = client.get("/livez", headers={"X-Request-Id": "two words"})
        quoted = client.get("/livez", headers={"X-Request-Id": '"}{"status": 1'})
        not_found = client.get("/no-such-route")
    assert echoed.headers["X-Request-Id"] == "partner-42.a:b"
    ids = [r.headers["X-Request-Id"] for r in (*made, too_long, spaced, quoted)]
    assert all(HEX_ID.fullmatch(request_id) for request_id in ids)
    assert len(set(ids)) == len(ids)
    assert HEX_ID.fullmatch(not_found.headers["X-Request-Id"])
    assert request_line(server, "partner-42.a:b")["path"] == "/livez"


def test_fresh_request_ids_are_unique_hex_even_across_a_fork():
    """Fresh ids come from a generator seeded once (http/request_id.py), not per call:
    many of them stay distinct and of the documented form, and a forked worker does
    not make its parent's ids (its generator is reseeded)."""
    ids = [request_id_of([]) for _ in range(20_000)]
    assert all(HEX_ID.fullmatch(request_id) for request_id in ids)
    assert len(set(ids)) == len(ids)
    script = (
        "import os\n"
        "from service.http.request_id import new_request_id\n"
        "pid = os.fork()\n"
        "ids = [new_request_id() for _ in range(3)]\n"
        "os.write(1, (' '.join(ids) + '\\n').encode())  # one write: no interleaving\n"
        "os.waitpid(pid, 0) if pid else os._exit(0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(out) == 6 and all(HEX_ID.fullmatch(request_id) for request_id in out)
    assert len(set(out)) == 6, "parent and forked child made the same ids"


def test_metrics_count_syncs_members_and_latency(server, client_id):
    before = scrape(server)
    with writer(server) as client:
        for body in (
            amplitude(client_id, "counted", added=["u1", "u2"]),
            amplitude(client_id, "counted", added=["u1", "u2"]),  # a replay: no change
            amplitude(client_id, "counted", removed=["u2"]),
        ):
            assert client.post(INGEST + "amplitude", json=body).status_code == 204
        assert client.post(INGEST + "no-such-partner", json={}).status_code == 404
        bad = client.post(INGEST + "amplitude", json={"batch": 1})
        assert bad.status_code == 400
    after = scrape(server)
    syncs = "segment_sync_syncs_total"
    assert delta(before, after, syncs, integration="amplitude", status="204") == 3
    assert delta(before, after, syncs, integration="amplitude", status="400") == 1
    assert delta(before, after, syncs, integration="unknown", status="404") == 1
    assert not any("no-such-partner" in str(key) for key in after)
    members = "segment_sync_members_applied_total"
    assert delta(before, after, members, integration="amplitude", change="added") == 2
    assert delta(before, after, members, integration="amplitude", change="removed") == 1
    applied = "segment_sync_apply_duration_seconds_count"
    assert delta(before, after, applied, integration="amplitude") == 3
    requests = "segment_sync_http_requests_total"
    labels = {"route": INGEST_ROUTE, "method": "POST"}
    assert delta(before, after, requests, **labels, status="204") == 3
    latency = "segment_sync_http_request_duration_seconds_count"
    assert delta(before, after, latency, route=INGEST_ROUTE) == 5
    assert after[("segment_sync_http_request_duration_seconds_sum",
                  frozenset({"route": INGEST_ROUTE}.items()))] > 0  # fmt: skip


def test_the_sdks_hash_log_shows_its_backlog_and_merges(server, client_id):
    """SQLite: a sync's hashes go to the log (4 rows here), then are merged: the merged
    rows and steps count up, and the backlog gauges come back to 0."""
    before = scrape(server)
    body = amplitude(client_id, "hash-log", added=["h1", "h2", "h3"], removed=["h4"])
    with writer(server) as client:
        assert client.post(INGEST + "amplitude", json=body).status_code == 204

    def merged() -> bool:
        after = scrape(server)
        rows = "segment_sync_sqlite_hash_log_merged_rows_total"
        return delta(before, after, rows) >= 4 and all(
            after[(gauge, frozenset())] == 0
            for gauge in (
                "segment_sync_sqlite_hash_log_rows",
                "segment_sync_sqlite_sdk_lag_seconds",
            )
        )

    wait_until(merged)
    steps = "segment_sync_sqlite_merge_duration_seconds_count"
    assert delta(before, scrape(server), steps) >= 1


def test_rate_limit_refusals_are_counted_by_route(server, client_id):
    before = scrape(server)
    with writer(server) as client:
        statuses = [
            client.post(
                INGEST + "amplitude", json=amplitude(client_id, "rl", ["u1"])
            ).status_code
            for _ in range(LIMIT + 1)
        ]
    with writer(server) as client:
        reads = [
            client.get(segments_path() + "/amplitude-rl").status_code
            for _ in range(LIMIT + 2)
        ]
    after = scrape(server)
    assert statuses == [204] * LIMIT + [429]
    assert reads == [200] * LIMIT + [429, 429]
    refused = "segment_sync_rate_limited_total"
    assert delta(before, after, refused, route=INGEST_ROUTE) == 1
    assert delta(before, after, refused, route=SEGMENT_ROUTE) == 2


def test_store_errors_are_counted(server, client_id):
    client = writer(server)  # before the lock: the token is written to the store
    before = scrape(server)
    locker = sqlite3.connect(server.db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # past the server's busy timeout of 0.2 s
    try:
        with client:
            body = amplitude(client_id, "locked", added=["u1"])
            assert client.post(INGEST + "amplitude", json=body).status_code == 503
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    after = scrape(server)
    errors = "segment_sync_store_errors_total"
    assert delta(before, after, errors, route=INGEST_ROUTE) == 1
    syncs = "segment_sync_syncs_total"
    assert delta(before, after, syncs, integration="amplitude", status="503") == 1


def test_metrics_show_no_token_or_environment(server, client_id):
    token = create_token(server.db, "--role", "writer")
    with server.client(token) as client:
        client.post(INGEST + "amplitude", json=amplitude(client_id, "secret-cohort"))
    with server.client() as client:
        text = client.get("/metrics").text
    for private in (token, token.split("-")[1], client_id, "secret-cohort"):
        assert private not in text
    assert "process_cpu_seconds_total" in text  # the process collector is there


def test_the_group_commit_hook_feeds_the_batch_histograms():
    """What a batching writer calls once per commit (service/metrics.py)."""

    def count(name: str) -> float:
        return metrics.REGISTRY.get_sample_value(name) or 0.0

    requests = count("segment_sync_commit_batch_requests_count")
    members = count("segment_sync_commit_batch_members_sum")
    metrics.observe_commit_batch(requests=7, members=1200)
    assert count("segment_sync_commit_batch_requests_count") == requests + 1
    assert count("segment_sync_commit_batch_members_sum") == members + 1200
    bucket = metrics.REGISTRY.get_sample_value(
        "segment_sync_commit_batch_requests_bucket", {"le": "8.0"}
    )
    assert bucket is not None and bucket >= 1


def test_integration_labels_are_bounded():
    assert metrics.integration_label("Amplitude") == "amplitude"
    assert metrics.integration_label("heap-inbound") == "heap-inbound"
    assert metrics.integration_label("../../etc") == metrics.UNKNOWN
    assert metrics.integration_label("ﬁ") == metrics.UNKNOWN
