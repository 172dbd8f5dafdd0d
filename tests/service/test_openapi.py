"""The OpenAPI document tells the truth: checked against the real server's answers.

Every request example is sent and must get the answer the document promises, validated
against the schema it names; the ingest errors are ErrorBody exactly for the integrations
without a template; PATCH takes what its schema takes. (tests/service/test_schemathesis.py
then fuzzes every operation with schemathesis.)
"""

from __future__ import annotations

import re

import jsonschema
import pytest

import generated
from service.examples import SAMPLE_BODIES

from .helpers import create_token

INGEST_PATH = "/api/v2/segment-targets/{integrationKey}"
SEGMENTS = "/api/v2/projects/{projectKey}/environments/{environmentKey}/segments"
OPERATIONS = {
    ("post", INGEST_PATH): "syncSegmentTargets",
    ("get", SEGMENTS): "listSegments",
    ("get", SEGMENTS + "/{segmentKey}"): "getSegment",
    ("patch", SEGMENTS + "/{segmentKey}"): "updateSegment",
    ("get", SEGMENTS + "/{segmentKey}/members"): "listSegmentMembers",
    ("get", SEGMENTS + "/{segmentKey}/included/{contextKey}"): "getSegmentInclusion",
    ("get", SEGMENTS.removesuffix("/segments") + "/sdk-segments"): "listSdkSegments",
    ("get", "/livez"): "getLiveness",
    ("get", "/readyz"): "getReadiness",
    ("get", "/healthz"): "getHealth",
    ("get", "/metrics"): "getMetrics",
}


@pytest.fixture(scope="module")
def document(service) -> dict:
    with service.client() as client:
        return client.get("/openapi.json").json()


@pytest.fixture(scope="module")
def writer(service, example_environment):
    with service.client(create_token(service.db, "--role", "writer")) as client:
        yield client


def ingest(document: dict) -> dict:
    return document["paths"][INGEST_PATH]["post"]


def resolve(document: dict, schema: dict) -> list[dict]:
    """The schemas a response schema allows: its anyOf's, each $ref resolved."""
    choices = schema.get("anyOf", [schema])
    return [
        (
            document["components"]["schemas"][c["$ref"].rsplit("/", 1)[1]]
            if "$ref" in c
            else c
        )
        for c in choices
    ]


def documented(document: dict, status: int) -> list[dict]:
    response = ingest(document)["responses"][str(status)]
    return resolve(document, response["content"]["application/json"]["schema"])


def matches(schema: dict, value: object) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(value)


def templated(key: str) -> bool:
    return hasattr(generated.module_for(key), "render_response")


def test_operation_ids_are_stable(document):
    found = {
        (method, path): operation["operationId"]
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert found == OPERATIONS


def test_the_integration_key_is_an_enum_of_the_built_integrations(document):
    (parameter,) = ingest(document)["parameters"]
    assert parameter["name"] == "integrationKey"
    assert parameter["schema"]["enum"] == sorted(generated.INTEGRATIONS)


def test_every_example_is_accepted_as_documented(document, writer):
    examples = ingest(document)["requestBody"]["content"]["application/json"]
    assert (
        set(examples["examples"]) == set(SAMPLE_BODIES) == set(generated.INTEGRATIONS)
    )
    for key, example in examples["examples"].items():
        response = writer.post(f"/api/v2/segment-targets/{key}", json=example["value"])
        if templated(key):
            assert response.status_code == 200, (key, response.text)
            (schema,) = [
                s for s in documented(document, 200) if s["title"] == f"{key} response"
            ]
            assert matches(schema, response.json())
        else:
            assert (response.status_code, response.content) == (204, b""), key


@pytest.mark.parametrize("key", sorted(generated.INTEGRATIONS))
def test_errors_are_error_body_only_without_a_template(document, writer, key):
    response = writer.post(f"/api/v2/segment-targets/{key}", json={})
    assert response.status_code == 400
    error_body, *templates = documented(document, 400)
    assert error_body["title"] == "ErrorBody"
    own = [s for s in templates if s["title"] == f"{key} response"]
    if templated(key):
        assert not matches(error_body, response.json())  # its template, not ErrorBody
        assert len(own) == 1 and matches(own[0], response.json())
    else:
        assert own == [] and matches(error_body, response.json())


def test_an_unknown_integration_is_an_error_body(document, writer):
    response = writer.post("/api/v2/segment-targets/nobody", json={})
    assert response.status_code == 404
    assert documented(document, 404) == [document["components"]["schemas"]["ErrorBody"]]
    assert matches(documented(document, 404)[0], response.json())


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "Renamed"},
        {"description": ""},
        {"tags": []},
        {"tags": ["a", "a"]},
        {"name": ""},
        {"name": None},
        {"tags": None},
        {"tags": ["not ok"]},
        {"tags": "beta"},
        {"nmae": "typo"},
        {"name": "x" * 257},
        [],
    ],
    ids=repr,
)
def test_patch_accepts_exactly_what_its_schema_allows(document, writer, body):
    details = document["components"]["schemas"]["SegmentDetails"]
    created = writer.post(
        "/api/v2/segment-targets/amplitude",
        json={
            "environmentId": "your-client-side-id",
            "batch": [
                {"userId": "u", "cohortId": "patched", "cohortName": "P", "value": True}
            ],
        },
    )
    assert created.status_code == 204, created.text
    path = (
        SEGMENTS.format(projectKey="docs", environmentKey="ex") + "/amplitude-patched"
    )
    response = writer.patch(path, json=body)
    assert response.status_code == (200 if matches(details, body) else 400), body


def test_response_headers_are_documented_and_sent(document, writer):
    answer = writer.get("/livez")
    livez = document["paths"]["/livez"]["get"]["responses"]["200"]
    pattern = livez["headers"]["X-Request-Id"]["schema"]["pattern"]
    assert re.fullmatch(pattern, answer.headers["X-Request-Id"])
    throttled = ingest(document)["responses"]["429"]["headers"]
    assert {"Retry-After", "X-Ratelimit-Reset", "X-Request-Id"} <= set(throttled)


def test_docs_page_needs_no_other_host(service):
    with service.client() as client:
        page = client.get("/docs")
        urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)""", page.text)
        assets = {url: client.get(url) for url in urls}
        redoc = client.get("/redoc")
    assert page.status_code == 200
    assert sorted(urls) == [
        "/docs/assets/favicon-32x32.png",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/openapi.json",
    ]
    assert all(response.status_code == 200 for response in assets.values())
    assert "SwaggerUIBundle" in assets["/docs/assets/swagger-ui-bundle.js"].text
    assert '"validatorUrl": null' in page.text  # nor the online validator
    assert redoc.status_code == 404  # FastAPI's redoc would load from a CDN
