"""The read API and PATCH against the real server, in an environment of this module's own."""

from __future__ import annotations

import re

import pytest

from .helpers import all_members, amplitude, cli, create_token, segments_path

INGEST = "/api/v2/segment-targets/"
ENV = {"project": "reads", "environment": "test"}
CLIENT_ID = "read-api-env"
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture(scope="module")
def writer(service):
    """A writer token, and the module's environment added with the CLI while serving."""
    result = cli(service.db, "environment", "add", CLIENT_ID, "reads", "test")
    assert result.returncode == 0, result.stderr
    token = create_token(service.db, "--role", "writer")
    with service.client(token) as client:
        yield client


def sync(client, cohort, added=(), removed=(), name=None):
    body = amplitude(CLIENT_ID, cohort, added, removed, name)
    response = client.post(INGEST + "amplitude", json=body)
    assert response.status_code == 204, response.text
    return response


def test_one_segment_has_every_detail(writer):
    sync(writer, "detail", added=["u1", "u2", "u3"], name="Detail cohort")
    segment = writer.get(segments_path(**ENV) + "/amplitude-detail").json()
    created, updated = segment.pop("createdAt"), segment.pop("updatedAt")
    assert ISO.fullmatch(created) and ISO.fullmatch(updated)
    assert isinstance(segment.pop("generation"), int)  # see test_sdk_definitions.py
    assert segment == {
        "key": "amplitude-detail",
        "name": "Detail cohort",
        "description": "",
        "tags": [],
        "contextKind": "user",
        "integrationKey": "amplitude",
        "cohortId": "detail",
        "cohortUrl": "https://app.amplitude.com/cohort/detail",
        "memberCount": 3,
        "unbounded": True,
        "unboundedContextKind": "user",
    }


def test_list_segments_pages_by_key(writer):
    for cohort in ("list-a", "list-b", "list-c"):
        sync(writer, cohort, added=["u1"])
    keys, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = writer.get(segments_path(**ENV), params=params).json()
        assert len(page["items"]) <= 2
        keys += [item["key"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert keys == sorted(keys)
    assert {"amplitude-list-a", "amplitude-list-b", "amplitude-list-c"} <= set(keys)


def test_included_answers_true_and_false(writer):
    sync(writer, "incl", added=["in"], removed=["out"])
    base = segments_path(**ENV) + "/amplitude-incl/included/"
    assert writer.get(base + "in").json() == {
        "segmentKey": "amplitude-incl",
        "contextKey": "in",
        "included": True,
    }
    assert writer.get(base + "out").json()["included"] is False
    assert writer.get(base + "never-seen").json()["included"] is False


def test_members_page_through_in_key_order(writer):
    members = [f"m{i:03d}" for i in range(250)]
    sync(writer, "paged", added=members[::-1])
    path = segments_path(**ENV) + "/amplitude-paged/members"
    first = writer.get(path, params={"limit": 100}).json()
    assert first["items"] == members[:100]
    assert first["nextCursor"] == "m099"
    assert all_members(writer, "amplitude-paged", **ENV) == members


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": 0}, "query.limit: Input should be greater than or equal to 1"),
        ({"limit": 1001}, "query.limit: Input should be less than or equal to 1000"),
        ({"limit": "ten"}, "query.limit: Input should be a valid integer"),
    ],
)
def test_page_size_is_bounded(writer, params, message):
    sync(writer, "bounded", added=["u1"])
    response = writer.get(
        segments_path(**ENV) + "/amplitude-bounded/members", params=params
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert response.json()["message"].startswith(message)


def test_keys_with_slashes_and_percent_signs(writer):
    sync(writer, "a/b%c", added=["user/1", "user%2"])
    base = segments_path(**ENV) + "/amplitude-a%2Fb%25c"
    assert writer.get(base).json()["key"] == "amplitude-a/b%c"
    assert writer.get(base + "/included/user%2F1").json()["included"] is True
    assert writer.get(base + "/included/user%252").json()["included"] is True
    assert writer.get(base + "/members").json()["items"] == ["user%2", "user/1"]


def test_unknown_environment_and_segment_are_404(writer):
    response = writer.get(segments_path("reads", "nope"))
    assert response.status_code == 404
    assert response.json() == {
        "code": "unknown_environment",
        "message": 'project "reads" has no environment "nope"',
    }
    for suffix in ("", "/members", "/included/u1"):
        response = writer.get(segments_path(**ENV) + "/amplitude-none" + suffix)
        assert response.status_code == 404
        assert response.json() == {
            "code": "unknown_segment",
            "message": 'no segment with key "amplitude-none"',
        }


def test_unknown_route_is_a_json_404(writer):
    response = writer.get("/api/v2/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "no route GET /api/v2/nothing-here",
    }


def test_patch_details_survive_later_syncs(writer):
    sync(writer, "edited", added=["u1"], name="Partner name")
    path = segments_path(**ENV) + "/amplitude-edited"
    before = writer.get(path).json()
    patch = {"name": "Beta testers", "description": "from Amplitude", "tags": ["beta"]}
    response = writer.patch(path, json=patch)
    assert response.status_code == 200
    assert {k: response.json()[k] for k in patch} == patch
    assert response.json()["updatedAt"] >= before["updatedAt"]
    # a later sync with another cohort name and URL changes members only
    body = amplitude(CLIENT_ID, "edited", added=["u2"], name="Renamed by partner")
    body["batch"][0]["cohortUrl"] = "https://elsewhere.example.com"
    assert writer.post(INGEST + "amplitude", json=body).status_code == 204
    after = writer.get(path).json()
    assert {k: after[k] for k in patch} == patch
    assert after["cohortUrl"] == "https://app.amplitude.com/cohort/edited"
    assert after["memberCount"] == 2


def test_patch_changes_only_what_it_names(writer):
    sync(writer, "partial", added=["u1"], name="Original")
    path = segments_path(**ENV) + "/amplitude-partial"
    writer.patch(path, json={"tags": ["a", "b", "a"]})
    segment = writer.patch(path, json={"description": "d"}).json()
    assert (segment["name"], segment["description"], segment["tags"]) == (
        "Original",
        "d",
        ["a", "b"],
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"nmae": "x"},
            'unknown property "nmae"; the properties are: name, description, tags',
        ),
        ({"name": ""}, "name: String should have at least 1 character"),
        (
            {"name": None},
            "name: Value error, must not be null; leave the property out to keep it",
        ),
        ({"tags": ["ok", "not ok"]}, "tags.1: String should match pattern"),
        ({"tags": "beta"}, "tags: Input should be a valid list"),
    ],
)
def test_patch_refusals_name_the_property(writer, body, message):
    sync(writer, "refused", added=["u1"])
    response = writer.patch(segments_path(**ENV) + "/amplitude-refused", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert response.json()["message"].startswith(message)


def test_empty_patch_changes_nothing(writer):
    """`{}` is a valid merge patch by the document, and answers the segment as it is."""
    sync(writer, "untouched", added=["u1"], name="Untouched")
    path = segments_path(**ENV) + "/amplitude-untouched"
    before = writer.get(path).json()
    response = writer.patch(path, json={})
    assert response.status_code == 200
    assert response.json() == before  # updatedAt included: nothing was written
    missing = writer.patch(segments_path(**ENV) + "/amplitude-none", json={})
    assert missing.status_code == 404


def test_patch_of_invalid_json_is_400(writer):
    response = writer.patch(
        segments_path(**ENV) + "/amplitude-refused",
        content=b"{",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


def test_patch_of_unknown_segment_is_404(writer):
    response = writer.patch(
        segments_path(**ENV) + "/amplitude-none", json={"name": "x"}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_segment"


def test_openapi_documents_every_route(service):
    with service.client() as client:
        document = client.get("/openapi.json").json()
    environment = "/api/v2/projects/{projectKey}/environments/{environmentKey}"
    segments = environment + "/segments"
    routes = {
        path: sorted(operations) for path, operations in document["paths"].items()
    }
    assert routes == {
        # the singular alias is served (test_http_defects.py), documented once here
        "/api/v2/segment-targets/{integrationKey}": ["post"],
        segments: ["get"],
        segments + "/{segmentKey}": ["get", "patch"],
        segments + "/{segmentKey}/members": ["get"],
        segments + "/{segmentKey}/included/{contextKey}": ["get"],
        environment + "/sdk-segments": ["get"],
        "/healthz": ["get"],
        "/livez": ["get"],
        "/readyz": ["get"],
        "/metrics": ["get"],
    }
    ingest = document["paths"]["/api/v2/segment-targets/{integrationKey}"]["post"]
    assert sorted(ingest["responses"]) == [
        "200", "204", "400", "403", "404", "409", "413", "429", "503",
    ]  # fmt: skip
    assert ingest["security"] == [{"accessToken": []}]
    assert ingest["requestBody"]["required"] is True
    assert "422" not in str(document)


def test_health_needs_no_token(service):
    with service.client() as client:
        response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
