"""The playground server over real HTTP: a subprocess of `python -m compiler playground`.

Statuses for every kind of request (never a 500), no external asset in what the page
loads, loopback only, nothing written, and the command line's own mistakes.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest

from compiler.playground import api, worker

from .helpers import MANIFESTS, ROOT, Playground

HIGHTOUCH = (MANIFESTS / "hightouch" / "manifest.json").read_text(encoding="utf-8")
HIGHTOUCH_ADD = (MANIFESTS / "hightouch" / "examples" / "add.json").read_text()


def request(playground, method, path, body=None, headers=None):
    where = urlsplit(playground.url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def post(playground, document, headers=None):
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    status, _, body = request(playground, "POST", "/api/try", raw,
                              {"Content-Type": "application/json", **(headers or {})})  # fmt: skip
    return status, json.loads(body)


def test_it_listens_on_loopback_by_default(playground):
    assert urlsplit(playground.url).hostname == "127.0.0.1"
    assert playground.first_line.endswith("Ctrl-C stops it)")


def test_the_page_loads_nothing_from_elsewhere(playground):
    status, headers, page = request(playground, "GET", "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    html = page.decode()
    assets = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sorted(assets) == ["favicon.svg", "playground.css", "playground.js"]
    for asset in assets:
        status, headers, content = request(playground, "GET", "/" + asset)
        assert status == 200 and content
        text = content.decode()
        assert "@import" not in text and "url(" not in text
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), asset


def test_the_integrations_are_listed_with_their_examples(playground):
    status, _, body = request(playground, "GET", "/api/integrations")
    document = json.loads(body)
    assert status == 200
    assert [i["key"] for i in document["integrations"]] == sorted(
        p.parent.name for p in MANIFESTS.glob("*/manifest.json")
    )
    assert document["limits"] == api.limits()


def test_a_trial_over_http(playground):
    status, document = post(playground, {"key": "hightouch", "manifest": HIGHTOUCH,
                                         "body": HIGHTOUCH_ADD})  # fmt: skip
    assert status == 200 and document["ok"] is True
    assert document["response"]["status"] == 204
    assert document["response"]["result"]["changes"][0]["added"] == ["u1", "u2"]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status"),
    [
        ("POST", "/api/try", b"{not json", {"Content-Type": "application/json"}, 400),
        ("POST", "/api/try", b"{}", {"Content-Type": "text/plain"}, 415),
        (
            "POST",
            "/api/try",
            b"{}",
            {"Content-Type": "application/json", "Host": "evil.example:80"},
            403,
        ),  # fmt: skip
        ("POST", "/elsewhere", b"{}", {"Content-Type": "application/json"}, 404),
        ("GET", "/api/try", None, {}, 405),
        ("PUT", "/api/try", b"{}", {"Content-Type": "application/json"}, 405),
        ("GET", "/nothing-here", None, {}, 404),
        ("GET", "/", None, {"Host": "rebound.example"}, 403),
    ],
)
def test_every_refusal_is_a_4xx_with_a_json_reason(
    playground, method, path, body, headers, status
):
    got, answer_headers, raw = request(playground, method, path, body, headers)
    assert got == status
    assert answer_headers["Content-Type"] == "application/json"
    assert json.loads(raw)["error"]


def raw_post(playground, host: str, length: str | None, body: bytes = b"") -> bytes:
    """POST /api/try with headers as given (a client library would fix them), and
    read until the server closes the connection, as it must after a request it did
    not read."""
    head = (
        f"POST /api/try HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    )
    if length is not None:
        head += f"Content-Length: {length}\r\n"
    where = urlsplit(playground.url)
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_a_huge_declared_length_is_refused_unread(playground):
    answer = raw_post(playground, "127.0.0.1", str(100 * 1024 * 1024), b"{")
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in answer
    assert b"the request is 100.0 MiB; the limit is" in answer


def test_a_missing_or_bad_length_or_a_foreign_host_is_a_4xx(playground):
    assert raw_post(playground, "localhost", None).startswith(b"HTTP/1.1 411 ")
    assert raw_post(playground, "localhost", "-5").startswith(b"HTTP/1.1 400 ")
    foreign = raw_post(playground, "evil.example", "2", b"{}")
    assert foreign.startswith(b"HTTP/1.1 403 ")


def test_keep_alive_serves_one_request_after_another(playground):
    where = urlsplit(playground.url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    try:
        for body in (b"{", json.dumps({"manifest": HIGHTOUCH}).encode()):
            connection.request("POST", "/api/try", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
        assert response.status == 200
    finally:
        connection.close()


def test_a_body_over_the_cap_is_a_413_that_says_so(playground):
    status, document = post(playground, {"manifest": HIGHTOUCH,
                                         "body": " " * (api.MAX_BODY + 1)})  # fmt: skip
    assert status == 413 and "the playground takes up to 1.0 MiB" in document["error"]


def test_it_writes_nothing(playground):
    post(playground, {"key": "hightouch", "manifest": HIGHTOUCH, "body": HIGHTOUCH_ADD,
                      "black": True})  # fmt: skip
    post(playground, {"manifest": HIGHTOUCH.replace("/cohortId", "$.cohortId")})
    request(playground, "GET", "/api/integrations")
    assert os.listdir(playground.cwd) == []


def test_a_port_in_use_is_one_line_and_exit_2(playground, tmp_path):
    port = str(urlsplit(playground.url).port)
    run = subprocess.run(
        [sys.executable, "-m", "compiler", "playground", "--port", port],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr == (
        f"python -m compiler: error: --port {port} is in use: pick another "
        "(--port 0 picks a free one)\n"
    )


def test_ctrl_c_stops_it_cleanly(tmp_path):
    server = Playground(tmp_path)  # no manifests/ there: it starts with none
    assert "shipped integrations: none" in server.first_line
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(30) == 0
    assert server.process.stderr.read() == "playground: stopped\n"
    server.stop()


def slow_try(action_length: int) -> dict:
    """hightouch's manifest with a matcher quadratic in the action's length, and a body
    whose action is that long (x's: each one a start the repeat runs from)."""
    manifest = json.loads(HIGHTOUCH)
    parser = manifest["capabilities"]["syncedSegment"]["requestParser"]
    parser["arrayInclusion"]["matcher"] = "x\\w+_added"
    body = json.loads(HIGHTOUCH_ADD)
    body["action"] = "x" * action_length
    return {"key": "slow", "manifest": json.dumps(manifest), "body": json.dumps(body)}


def test_a_try_that_takes_too_long_is_stopped_and_said_so(tmp_path):
    playground = Playground(tmp_path, "--try-seconds", "1")
    try:
        started = time.monotonic()
        status, document = post(playground, slow_try(400_000))  # minutes, unstopped
        took = time.monotonic() - started
        assert status == 200 and document["ok"] is False
        [problem] = document["diagnostics"]
        assert problem["code"] == "try-stopped"
        assert "longer than 1 s" in problem["message"]
        assert took < 30  # stopped, not run to its end
        # the next try gets a fresh process, and an answer
        status, document = post(playground, slow_try(100))
        assert status == 200 and document["ok"] is True
        assert document["response"]["status"] == 204
    finally:
        playground.stop()


def test_the_child_warms_up_on_a_clean_try_of_its_own():
    answer = api.answer_try(worker.WARM_UP)
    assert answer.document["ok"] is True and answer.document["diagnostics"] == []
    assert answer.document["response"]["status"] == 200


def test_a_try_s_clock_starts_when_its_child_is_ready():
    # a fresh child takes over a second to import and warm up; a try of 20 ms must not
    # be stopped for it, on a first try or on the one after a kill
    tries = worker.TryProcess(seconds=0.5)
    try:
        for _ in range(2):
            answer = tries.answer(json.dumps(slow_try(100)).encode())
            assert answer.document["ok"] is True, answer.document["diagnostics"]
            answer = tries.answer(json.dumps(slow_try(400_000)).encode())
            assert answer.document["diagnostics"][0]["code"] == "try-stopped"
    finally:
        tries.close()
