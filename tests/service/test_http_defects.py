"""Defects found under load and attack (issue 10), each against the real server with real
sockets: clients that go away, trailing slashes, forged log lines, idle and half-sent
connections, and the singular path of LaunchDarkly's validation server."""

from __future__ import annotations

import re
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from .helpers import Service, all_members, amplitude
from .test_ingest_statuses import read_response

INGEST = "/api/v2/segment-targets/amplitude"


def address(service: Service) -> tuple[str, int]:
    parts = urlsplit(service.url)
    return parts.hostname, parts.port


def raw_request(method: str, path: str, token: str = "", body: bytes = b"", **headers):
    lines = [f"{method} {path} HTTP/1.1", "Host: test"]
    if token:
        lines.append(f"Authorization: {token}")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def closed_by_server(conn: socket.socket, within: float) -> bool:
    """Whether the server closes conn (recv gives b"") within that many seconds."""
    conn.settimeout(within)
    try:
        while True:
            if conn.recv(65536) == b"":
                return True
    except (socket.timeout, TimeoutError):
        return False
    except ConnectionResetError:
        return True


def test_a_client_that_goes_away_mid_body_is_a_499_not_a_bug(service, first_start):
    _, token = first_start
    head = raw_request("POST", INGEST + "?gone", token, b"")
    head = head.replace(b"Content-Length: 0", b"Content-Length: 5000")
    with socket.create_connection(address(service)) as conn:
        conn.sendall(head + b'{"environmentId": "half of a body')
        time.sleep(0.2)  # the handler is reading the body now
    service.stderr.wait_for(r"POST /api/v2/segment-targets/amplitude 499 ", timeout=10)
    log = service.stderr.text()
    assert "bug in" not in log
    assert "Traceback" not in log
    assert not re.search(r"POST /api/v2/segment-targets/amplitude 500 ", log)


def test_a_trailing_slash_is_a_json_404_never_a_redirect(service, first_start):
    client_id, token = first_start
    for method, path in (
        ("POST", INGEST + "/"),
        ("POST", "/api/v2/segment-target/amplitude/"),
        ("GET", "/healthz/"),
    ):
        with socket.create_connection(address(service), timeout=10) as conn:
            body = b'{"environmentId": "x", "batch": []}'
            request = raw_request(method, path, token, body)
            conn.sendall(request.replace(b"Host: test", b"Host: evil.example"))
            status, headers, content = read_response(conn)
        assert status == 404, (path, status, headers)
        assert "location" not in headers
        assert b"evil.example" not in content
        assert content.startswith(b'{"code":"not_found","message":')


def test_control_characters_in_the_path_cannot_forge_log_lines(service):
    forged = (
        "/api/v2/segment-targets/amplitude%0a2024-01-01%20INFO%20forged:"
        "%201.2.3.4%20GET%20/admin%20200%1b%5B2J"
    )
    with socket.create_connection(address(service), timeout=10) as conn:
        conn.sendall(raw_request("POST", forged))
        read_response(conn)
    line = service.stderr.wait_for(r"POST /api/v2/segment-targets/amplitude\\n", 10)
    assert "\\x1b[2J" in line.string
    assert not any(
        text.startswith("2024-01-01 INFO forged") for text in service.stderr.lines
    )
    assert "\x1b" not in service.stderr.text()


def test_the_singular_path_of_the_validation_server_is_served(service, first_start):
    client_id, token = first_start
    with service.client(token) as client:
        body = amplitude(client_id, "singular", ["u1", "u2"])
        response = client.post("/api/v2/segment-target/amplitude", json=body)
        assert (response.status_code, response.content) == (204, b"")
        assert all_members(client, "amplitude-singular") == ["u1", "u2"]
        other = client.get(INGEST)  # another method: FastAPI's 405, as JSON
        assert other.status_code == 405
        assert other.json()["code"] == "method_not_allowed"
        assert other.headers["allow"] == "POST"


@pytest.fixture(scope="module")
def impatient(tmp_path_factory):
    """A server with short timeouts: 0.5 s idle, 1 s for a whole request."""
    db = tmp_path_factory.mktemp("timeouts") / "segments.db"
    server = Service(db, "--keep-alive-timeout", "0.5", "--request-timeout", "1")
    try:
        yield server
    finally:
        server.stop()


def test_idle_and_half_sent_connections_are_closed(impatient):
    client_id, token = impatient.welcome()
    body = (b'{"environmentId": "%s", "batch": [{"userId": "u", "cohortId": "t", '
            b'"cohortName": "t", "value": true}]}' % client_id.encode())  # fmt: skip
    whole = raw_request("POST", INGEST, token, body)
    cases = {
        "nothing sent": b"",
        "half of the headers": whole[:30],
        "headers and half of the body": whole[: len(whole) - len(body) // 2],
        "a request, then idle": whole,
    }
    closed: dict[str, bool] = {}
    connections = {name: socket.create_connection(address(impatient)) for name in cases}

    def watch(name: str) -> None:
        conn = connections[name]
        conn.sendall(cases[name])
        if name == "a request, then idle":
            assert read_response(conn)[0] == 204
        closed[name] = closed_by_server(conn, within=10)

    threads = [threading.Thread(target=watch, args=(name,)) for name in cases]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for conn in connections.values():
        conn.close()
    assert closed == {name: True for name in cases}
    assert time.monotonic() - started < 10
    # the half-sent body is the client's failure, not the server's
    impatient.stderr.wait_for(r"POST /api/v2/segment-targets/amplitude 499 ", 10)
    assert "Traceback" not in impatient.stderr.text()
    # and a prompt client is served on the same server
    with impatient.client(token) as client:
        assert client.get("/healthz").status_code == 200
