"""The OpenAPI document: FastAPI's, less its 422s, with the ingest route told as it is.

The ingest route's body is each partner's own and its answers depend on the
integration, so its documentation is made here from the built integrations
(`generated.INTEGRATIONS`) rather than from a model:

- the integration key is an enum of the built integrations;
- the request body has an example per integration (service/examples.py);
- an integration with a jsonResponseBody answers 200 and every error with its template:
  each such template is a schema of its own (`<Name>Response`, with bodies rendered by
  the generated runtime as examples), and the 200 and error answers are that or, for the
  integrations without a template, 204 and ErrorBody.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

import generated

from ..examples import SAMPLE_BODIES, sample_body
from .models import ErrorBody

INGEST_OPERATION = "syncSegmentTargets"
# A client-side id for the examples: it reads as a placeholder, and has the shape of a
# real one (service environment add takes it), so the examples can really be sent.
EXAMPLE_CLIENT_SIDE_ID = "your-client-side-id"
EXAMPLE_PUBLIC_URL = "https://flags.example.com"
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}

# What the decorator of the ingest route declares; document_ingest fills in the rest.
INGEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    204: {"description": "Applied (integrations without a jsonResponseBody)"},
}
INGEST_EXTRA: dict[str, Any] = {"security": [{"accessToken": []}]}

# status -> when the ingest route answers it
INGEST_ERRORS = {
    400: "Body refused (the message names the manifest property and pointer), or "
    "unknown environmentId",
    403: "Missing, invalid or revoked token, or its role lacks createSegment (a new "
    "segment) or updateIncluded (members); nothing applied",
    404: "Unknown integration key: always {code, message}, there is no integration "
    "whose template could answer",
    409: "A segment exists with another context kind, or is synced by another "
    "integration; nothing applied",
    413: "Body over the size limit",
    429: "Rate limited; X-Ratelimit-Reset is when to retry (epoch ms)",
    503: "Segment store unavailable; nothing applied; see Retry-After",
}

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Invalid request: the message names the parameter or property"),
        (403, "Missing, invalid or revoked token, or its role lacks the action"),
        (404, "Unknown environment or segment"),
        (429, "Rate limited; X-Ratelimit-Reset is when to retry (epoch ms)"),
        (503, "Segment store unavailable; see Retry-After"),
    )
}


def errors_of(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ERRORS a route can answer."""
    return {status: ERRORS[status] for status in statuses}


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, made once."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        drop_422(schema)
        document_ingest(schema)
        document_headers(schema)
        app.openapi_schema = schema
    return app.openapi_schema


def drop_422(schema: dict[str, Any]) -> None:
    """FastAPI assumes 422 for invalid input; this service answers 400 (errors.py)."""
    for path in schema["paths"].values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
    schemas = schema.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)


# response header -> (the statuses that carry it, None for all; its documentation)
RESPONSE_HEADERS: dict[str, tuple[Optional[frozenset[str]], dict[str, Any]]] = {
    "X-Request-Id": (
        None,
        {
            "description": "The request's own X-Request-Id when it is sane (1 to 128 "
            "of A-Z a-z 0-9 . _ ~ : + / = -), else a new one; also in the log",
            "required": True,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._~:+/=-]{1,128}$"},
        },
    ),
    "Retry-After": (
        frozenset({"429", "503"}),
        {
            "description": "Seconds to wait before retrying",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        },
    ),
    "X-Ratelimit-Reset": (
        frozenset({"429"}),
        {
            "description": "When a request will pass again, in epoch milliseconds",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        },
    ),
}


def document_headers(schema: dict[str, Any]) -> None:
    """The response headers every answer, or every 429 and 503, carries."""
    for path in schema["paths"].values():
        for operation in path.values():
            for status, response in operation["responses"].items():
                for name, (statuses, header) in RESPONSE_HEADERS.items():
                    if statuses is None or status in statuses:
                        response.setdefault("headers", {})[name] = header


def document_ingest(schema: dict[str, Any]) -> None:
    """The ingest operation's parameters, body and answers, from the built integrations."""
    operation = find_operation(schema, INGEST_OPERATION)
    keys = sorted(generated.INTEGRATIONS)
    templates = {key: template_schema(key) for key in keys if has_template(key)}
    plain = [key for key in keys if key not in templates]
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorBody", ErrorBody.model_json_schema())
    refs = []
    for key, template in templates.items():
        name = schema_name(key)
        components[name] = template
        refs.append({"$ref": f"#/components/schemas/{name}"})

    for parameter in operation.get("parameters", []):
        if parameter["name"] == "integrationKey":
            parameter["schema"] = {"type": "string", "enum": keys}
            parameter["description"] = (
                "A built integration's key (ASCII letters match ignoring case)"
            )
    operation["requestBody"] = {
        "required": True,
        "description": "The partner's body, in the shape its manifest describes",
        "content": {
            "application/json": {
                "schema": {"type": "object"},
                "examples": {
                    key: {
                        "summary": f"{key}: a sync that succeeds",
                        "value": sample_body(key, EXAMPLE_CLIENT_SIDE_ID),
                    }
                    for key in keys
                    if key in SAMPLE_BODIES
                },
            }
        },
    }
    responses: dict[str, Any] = {}
    if templates:
        responses["200"] = {
            "description": "Applied; the integration's jsonResponseBody ("
            + ", ".join(templates)
            + ")",
            "content": {"application/json": {"schema": one_of(refs)}},
        }
    if plain:
        responses["204"] = {
            "description": "Applied (" + ", ".join(plain) + ": no jsonResponseBody)"
        }
    for status, description in INGEST_ERRORS.items():
        bodies = [ERROR_BODY] if plain or status == 404 else []
        if status != 404:
            bodies += refs
        if templates and status != 404:
            description += (
                "; " + ", ".join(templates) + " answer with their jsonResponseBody"
            )
        responses[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": one_of(bodies)}},
        }
    operation["responses"] = responses


def find_operation(schema: dict[str, Any], operation_id: str) -> dict[str, Any]:
    for path in schema["paths"].values():
        for operation in path.values():
            if operation.get("operationId") == operation_id:
                return operation  # type: ignore[no-any-return]
    raise LookupError(f"no operation {operation_id} in the document")


def one_of(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}


def has_template(key: str) -> bool:
    return hasattr(generated.module_for(key), "render_response")


def schema_name(key: str) -> str:
    """`heap-inbound` -> `HeapInboundResponse`."""
    words = key.replace("_", "-").split("-")
    return "".join(word[:1].upper() + word[1:] for word in words) + "Response"


def template_schema(key: str) -> dict[str, Any]:
    """What an integration's jsonResponseBody renders: its JSON type and real renders."""
    samples = template_samples(key)
    schema: dict[str, Any] = {
        "title": f"{key} response",
        "description": f"The jsonResponseBody of {key}'s manifest, rendered with the "
        "answer's status and message: on success (200) and on every error.",
        "examples": samples,
    }
    types = {json_type(sample) for sample in samples}
    if len(types) == 1:
        schema["type"] = types.pop()
    return schema


def template_samples(key: str) -> list[Any]:
    """The template rendered by the runtime: on the sample body's success, on a 400."""
    module = generated.module_for(key)
    doc: Optional[dict[str, Any]] = None
    rendered = []
    if key in SAMPLE_BODIES:
        doc = sample_body(key, EXAMPLE_CLIENT_SIDE_ID)
        sync = module.parse(doc)
        rendered.append(
            generated.success_response(
                module, doc, sync, EXAMPLE_PUBLIC_URL, "default", "production"
            )
        )
    error = generated.ParseError(
        400, "unknown_environment", "environmentId ... is not a client-side id here"
    )
    rendered.append(generated.error_response(module, doc, error, EXAMPLE_PUBLIC_URL))
    return [json.loads(body) for _, _, body in rendered if body]


def json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string" if isinstance(value, str) else "null"
