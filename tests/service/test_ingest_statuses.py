"""Every status of SPEC section 4 from the real server, each with its body.

Templated integrations (heap-inbound) answer with their jsonResponseBody on every status.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from urllib.parse import urlsplit

import pytest

from .helpers import (
    Service,
    amplitude,
    audience,
    create_token,
    heap,
    segments_path,
)

INGEST = "/api/v2/segment-targets/"
PUBLIC = "https://flags.example.com"


def heap_body(status, message="", segment_id="", environment="production"):
    """What heap-inbound's jsonResponseBody renders (PARTNERS.md)."""
    segment_url = ""
    if segment_id and environment:
        segment_url = f"{PUBLIC}/default/{environment}/segments/{segment_id}/targeting"
    body = {
        "projectId": "default",
        "environmentId": environment,
        "segmentId": segment_id,
        "segmentUrl": segment_url,
    }
    if status < 300:
        return {**body, "status": "success"}
    return {**body, "status": "failure", "error": {"message": message, "code": status}}


def test_204_applies_and_the_read_api_sees_it(service, first_start):
    client_id, token = first_start
    with service.client(token) as client:
        body = amplitude(client_id, "c204", added=["u1", "u2"], removed=["u3"])
        response = client.post(INGEST + "amplitude", json=body)
        assert (response.status_code, response.content) == (204, b"")
        segment = client.get(segments_path() + "/amplitude-c204").json()
    assert segment["memberCount"] == 2
    assert segment["name"] == "C204"
    assert segment["cohortUrl"] == "https://app.amplitude.com/cohort/c204"


def test_200_renders_heap_template_with_real_keys(service, first_start):
    client_id, token = first_start
    with service.client(token) as client:
        response = client.post(
            INGEST + "heap-inbound", json=heap(client_id, 200, ["u1"])
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    # projectKey and environmentKey come from the environment of the body's id, and
    # segmentUrl from --public-url
    assert response.json() == heap_body(200, segment_id="heap-inbound-200")


def test_integration_keys_ignore_case(service, first_start):
    client_id, token = first_start
    with service.client(token) as client:
        body = amplitude(client_id, "case", added=["u1"])
        assert client.post(INGEST + "Amplitude", json=body).status_code == 204


def test_bearer_token_is_accepted(service, first_start):
    client_id, token = first_start
    with service.client(f"Bearer {token}") as client:
        body = amplitude(client_id, "bearer", added=["u1"])
        assert client.post(INGEST + "amplitude", json=body).status_code == 204


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        (b"{", "invalid_json", "request body is not valid JSON"),
        (b"\xff{}", "invalid_encoding", "request body is not valid UTF-8"),
        (b"[]", "not_an_object", "request body must be a JSON object"),
        (
            b'{"environmentId": "x", "batch": []}',
            "missing_value",
            'cohortIdPath "/batch/0/cohortId": no value in request body',
        ),
    ],
)
def test_400_names_what_is_wrong(service, first_start, raw, code, message):
    _, token = first_start
    with service.client(token) as client:
        response = client.post(INGEST + "amplitude", content=raw)
    assert response.status_code == 400
    assert response.json() == {"code": code, "message": message}


def test_400_unknown_environment_says_so(service, first_start):
    _, token = first_start
    with service.client(token) as client:
        response = client.post(
            INGEST + "amplitude", json=amplitude("nowhere", "c", ["u"])
        )
    assert response.status_code == 400
    assert response.json() == {
        "code": "unknown_environment",
        "message": 'environmentId "nowhere" is not a client-side id of any environment '
        "here; check the id, or add it with: python -m service environment add "
        "nowhere PROJECT_KEY ENVIRONMENT_KEY",
    }


def test_400_heap_template(service, first_start):
    _, token = first_start
    with service.client(token) as client:
        response = client.post(INGEST + "heap-inbound", content=b"{")
    assert response.status_code == 400
    assert response.json() == heap_body(
        400, "request body is not valid JSON", environment=""
    )


@pytest.mark.parametrize(
    ("authorization", "code", "message"),
    [
        (
            None,
            "missing_token",
            "missing access token: send it in the Authorization header "
            "(Authorization: <token>, or Authorization: Bearer <token>)",
        ),
        ("api-000000000000-" + "x" * 43, "invalid_token", "invalid access token"),
        ("not a token", "invalid_token", "invalid access token"),
    ],
)
def test_403_without_a_valid_token(service, first_start, authorization, code, message):
    client_id, _ = first_start
    with service.client(authorization) as client:
        body = amplitude(client_id, "c403", added=["u1"])
        response = client.post(INGEST + "amplitude", json=body)
        assert response.status_code == 403
        assert response.json() == {"code": code, "message": message}
        # nothing was applied: the writer token cannot find the segment
    with service.client(first_start[1]) as client:
        assert client.get(segments_path() + "/amplitude-c403").status_code == 404


def test_403_a_wrong_secret_of_a_real_token_id(service, first_start):
    client_id, token = first_start
    forged = token[: -len("xyz")] + ("abc" if not token.endswith("abc") else "abd")
    with service.client(forged) as client:
        response = client.post(
            INGEST + "amplitude", json=amplitude(client_id, "c", ["u"])
        )
    assert response.status_code == 403
    assert response.json()["code"] == "invalid_token"


def test_403_heap_template_for_a_bad_token(service, first_start):
    client_id, _ = first_start
    with service.client("wrong") as client:
        response = client.post(
            INGEST + "heap-inbound", json=heap(client_id, 403, ["u"])
        )
    assert response.status_code == 403
    # the body is not read for a refused token, so the template sees no segment
    assert response.json() == heap_body(403, "invalid access token", environment="")


def test_403_heap_template_for_a_role_without_create_segment(service, first_start):
    client_id, _ = first_start
    updater = create_token(service.db, "--actions", "updateIncluded")
    with service.client(updater) as client:
        response = client.post(
            INGEST + "heap-inbound", json=heap(client_id, 4031, ["u"])
        )
    assert response.status_code == 403
    assert response.json() == heap_body(
        403,
        'segment "heap-inbound-4031" does not exist yet, and creating a segment needs '
        "the createSegment action, which this access token's role lacks; nothing was "
        "applied",
        segment_id="heap-inbound-4031",
    )


def test_404_unknown_integration(service, first_start):
    client_id, token = first_start
    with service.client(token) as client:
        response = client.post(INGEST + "nope", json=amplitude(client_id, "c", ["u"]))
    assert response.status_code == 404
    assert response.json() == {
        "code": "unknown_integration",
        "message": 'no integration with key "nope"',
    }


def test_409_context_kind_conflict_refuses_the_whole_request(service, first_start):
    client_id, token = first_start
    with service.client(token) as client:
        first = audience(client_id, "accounts", "account", added=["a1"])
        assert client.post(INGEST + "segment-audiences", json=first).status_code == 204
        # one request, two segments: a new one, and "accounts" with another kind
        body = audience(client_id, "fresh", "user", added=["u1"])
        body["batch"].append(
            {"userId": "u2", "cohortId": "accounts", "cohortName": "x", "value": True}
        )
        response = client.post(INGEST + "segment-audiences", json=body)
        assert response.status_code == 409
        assert response.json() == {
            "code": "context_kind_conflict",
            "message": 'segment "segment-audiences-accounts" holds contexts of kind '
            '"account"; this request sends kind "user", so nothing was applied',
        }
        # nothing applied: the new segment was not created, the old one kept its member
        assert (
            client.get(segments_path() + "/segment-audiences-fresh").status_code == 404
        )
        accounts = client.get(segments_path() + "/segment-audiences-accounts").json()
        assert accounts["memberCount"] == 1


def test_413_content_length_is_answered_before_the_body_is_sent(service, first_start):
    """The request declares 16 MiB + 1 and sends no body at all: 413 comes anyway."""
    _, token = first_start
    parts = urlsplit(service.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(
            b"POST /api/v2/segment-targets/amplitude HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: {token}\r\n".encode()
            + f"Content-Length: {16 * 1024 * 1024 + 1}\r\n\r\n".encode()
        )
        status, headers, body = read_response(conn)
    assert status == 413
    assert json.loads(body) == {
        "code": "body_too_large",
        "message": "request body is larger than the limit of 16777216 bytes",
    }


def test_413_chunked_body_is_cut_off_at_the_limit(service, first_start):
    _, token = first_start

    def chunks():
        for _ in range(17):
            yield b" " * (1024 * 1024)

    with service.client(token) as client:
        response = client.post(INGEST + "heap-inbound", content=chunks())
    assert response.status_code == 413
    assert response.json() == heap_body(
        413, "request body is larger than the limit of 16777216 bytes", environment=""
    )


def test_a_body_of_exactly_the_limit_is_read(service, first_start):
    _, token = first_start
    body = b"{}" + b" " * (16 * 1024 * 1024 - 2)
    with service.client(token) as client:
        response = client.post(INGEST + "amplitude", content=body)
    assert response.status_code == 400  # read and parsed, not refused for its size
    assert response.json()["code"] == "missing_value"


def test_429_per_token_with_reset_header(tmp_path):
    service = Service(tmp_path / "limited.db", "--rate-limit", "3/60")
    try:
        client_id, token = service.welcome()
        other = create_token(service.db, "--role", "writer")
        body = amplitude(client_id, "limited", added=["u1"])
        with service.client(token) as client:
            statuses = [client.post(INGEST + "amplitude", json=body).status_code
                        for _ in range(3)]  # fmt: skip
            assert statuses == [204, 204, 204]
            before = time.time() * 1000
            response = client.post(INGEST + "amplitude", json=body)
            assert response.status_code == 429
            reset = int(response.headers["X-Ratelimit-Reset"])
            assert before < reset <= before + 60_000
            assert 1 <= int(response.headers["Retry-After"]) <= 60
            assert response.json()["code"] == "rate_limited"
            assert response.json()["message"].startswith(
                "rate limit of 3 requests per 60 s for this access token reached; "
            )
            # the read API counts against the same limit
            assert client.get(segments_path()).status_code == 429
            templated = client.post(INGEST + "heap-inbound", json=heap(client_id, 1))
            assert templated.status_code == 429
            assert templated.json()["status"] == "failure"
            assert templated.json()["error"]["code"] == 429
        with service.client(other) as client:  # per token: another one is not limited
            assert client.post(INGEST + "amplitude", json=body).status_code == 204
    finally:
        service.stop()


def test_503_when_the_store_is_locked_then_recovery(tmp_path):
    """Another process holds the write lock past the busy timeout: 503, nothing applied."""
    service = Service(
        tmp_path / "locked.db", "--busy-timeout", "0.2", "--public-url", PUBLIC
    )
    try:
        client_id, token = service.welcome()
        locker = sqlite3.connect(service.db, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            with service.client(token) as client:
                response = client.post(
                    INGEST + "amplitude", json=amplitude(client_id, "c503", ["u1"])
                )
                assert response.status_code == 503
                assert response.headers["Retry-After"] == "1"
                assert response.json() == {
                    "code": "store_unavailable",
                    "message": "the segment store is unavailable; nothing was applied, "
                    "retry later",
                }
                templated = client.post(
                    INGEST + "heap-inbound", json=heap(client_id, 503, ["u1"])
                )
                assert templated.status_code == 503
                assert templated.json() == heap_body(
                    503,
                    "the segment store is unavailable; nothing was applied, retry later",
                    segment_id="heap-inbound-503",
                )
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        with service.client(token) as client:
            retry = client.post(
                INGEST + "amplitude", json=amplitude(client_id, "c503", ["u1"])
            )
            assert retry.status_code == 204
            segment = client.get(segments_path() + "/amplitude-c503").json()
            assert segment["memberCount"] == 1
        assert "SQLITE_BUSY" in service.stderr.text()  # the log says why
    finally:
        service.stop()


def read_response(conn: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length, read from a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    while len(body) < int(headers.get("content-length", "0")):
        chunk = conn.recv(65536)
        assert chunk, "connection closed inside the body"
        body += chunk
    return int(status_line.split()[1]), headers, body
