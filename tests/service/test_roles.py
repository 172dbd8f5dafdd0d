"""Token roles against the real server: what each role may do, and revocation."""

from __future__ import annotations

import time

import pytest

from .helpers import amplitude, cli, create_token, segments_path

INGEST = "/api/v2/segment-targets/"
CLIENT_ID = "roles-env"
ENV = {"project": "roles", "environment": "test"}


@pytest.fixture(scope="module")
def writer(service):
    result = cli(service.db, "environment", "add", CLIENT_ID, "roles", "test")
    assert result.returncode == 0, result.stderr
    return create_token(service.db, "--role", "writer")


def post(service, token, body):
    with service.client(token) as client:
        return client.post(INGEST + "amplitude", json=body)


def get(service, token, path):
    with service.client(token) as client:
        return client.get(segments_path(**ENV) + path)


def test_custom_role_without_create_segment(service, writer):
    assert (
        post(service, writer, amplitude(CLIENT_ID, "existing", ["u1"])).status_code
        == 204
    )
    updater = create_token(service.db, "--actions", "updateIncluded,viewSegment")

    # an existing segment: members change
    response = post(service, updater, amplitude(CLIENT_ID, "existing", ["u2"], ["u1"]))
    assert response.status_code == 204
    assert get(service, updater, "/amplitude-existing").json()["memberCount"] == 1
    assert get(service, updater, "/amplitude-existing/included/u2").json()["included"]

    # a new segment: 403 naming the action, and nothing is created
    response = post(service, updater, amplitude(CLIENT_ID, "brand-new", ["u1"]))
    assert response.status_code == 403
    assert response.json() == {
        "code": "action_not_allowed",
        "message": 'segment "amplitude-brand-new" does not exist yet, and creating a '
        "segment needs the createSegment action, which this access token's role lacks; "
        "nothing was applied",
    }
    assert get(service, writer, "/amplitude-brand-new").status_code == 404


def test_custom_role_without_update_included_may_only_create_empty(service, writer):
    creator = create_token(service.db, "--actions", "createSegment")
    response = post(service, creator, amplitude(CLIENT_ID, "members", ["u1"]))
    assert response.status_code == 403
    assert response.json() == {
        "code": "action_not_allowed",
        "message": "this access token's custom role [createSegment] lacks the action "
        "updateIncluded, which changing members needs; nothing was applied",
    }
    assert get(service, writer, "/amplitude-members").status_code == 404
    # a first sync with no members creates the empty segment, which createSegment allows
    hightouch = {
        "environmentId": CLIENT_ID, "cohortId": "empty", "cohortName": "Empty",
        "action": "add", "members": [],
    }  # fmt: skip
    with service.client(creator) as client:
        assert client.post(INGEST + "hightouch", json=hightouch).status_code == 204
    assert get(service, writer, "/hightouch-empty").json()["memberCount"] == 0


def test_reader_reads_but_cannot_write(service, writer):
    assert (
        post(service, writer, amplitude(CLIENT_ID, "read-me", ["u1"])).status_code
        == 204
    )
    reader = create_token(service.db, "--role", "reader")
    assert get(service, reader, "/amplitude-read-me").json()["memberCount"] == 1
    response = post(service, reader, amplitude(CLIENT_ID, "read-me", ["u2"]))
    assert response.status_code == 403
    assert response.json() == {
        "code": "action_not_allowed",
        "message": "this access token's role reader lacks the action createSegment or "
        "updateIncluded, which syncing needs",
    }
    with service.client(reader) as client:
        response = client.patch(
            segments_path(**ENV) + "/amplitude-read-me", json={"name": "x"}
        )
    assert response.status_code == 403
    assert response.json() == {
        "code": "action_not_allowed",
        "message": "this access token's role reader lacks the action updateSegment, "
        "which editing a segment needs",
    }
    assert get(service, writer, "/amplitude-read-me").json()["memberCount"] == 1


def test_sync_only_role_cannot_read(service, writer):
    syncer = create_token(service.db, "--actions", "createSegment,updateIncluded")
    assert (
        post(service, syncer, amplitude(CLIENT_ID, "sync-only", ["u1"])).status_code
        == 204
    )
    response = get(service, syncer, "/amplitude-sync-only")
    assert response.status_code == 403
    assert response.json()["message"] == (
        "this access token's custom role [createSegment, updateIncluded] lacks the "
        "action viewSegment, which reading needs"
    )


@pytest.mark.parametrize("role", ["writer", "admin", "owner"])
def test_built_in_roles_that_do_everything(service, writer, role):
    token = create_token(service.db, "--role", role)
    cohort = f"built-in-{role}"
    assert post(service, token, amplitude(CLIENT_ID, cohort, ["u1"])).status_code == 204
    with service.client(token) as client:
        path = segments_path(**ENV) + f"/amplitude-{cohort}"
        assert client.patch(path, json={"name": role}).json()["name"] == role


def test_revoked_token_gets_403_everywhere(service, writer):
    token = create_token(service.db, "--role", "writer")
    token_id = token.split("-")[1]
    assert (
        post(service, token, amplitude(CLIENT_ID, "revoked", ["u1"])).status_code == 204
    )
    result = cli(service.db, "token", "revoke", token_id)
    assert result.returncode == 0, result.stderr
    revoked = {"code": "revoked_token", "message": "this access token has been revoked"}
    # the service polls the registry's generation twice a second (service/cache.py)
    deadline = time.monotonic() + 5
    while True:
        response = get(service, token, "/amplitude-revoked")
        if response.status_code != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert (response.status_code, response.json()) == (403, revoked)
    response = post(service, token, amplitude(CLIENT_ID, "revoked", ["u2"]))
    assert (response.status_code, response.json()) == (403, revoked)
    assert get(service, writer, "/amplitude-revoked").json()["memberCount"] == 1
