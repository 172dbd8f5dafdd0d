"""The OpenAPI document: the ingest route's documentation, and FastAPI's less its 422s."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .models import ErrorBody

INGEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Applied; the integration's jsonResponseBody (e.g. heap-inbound)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    204: {"description": "Applied (integrations without a jsonResponseBody)"},
    400: {"model": ErrorBody, "description": "Body refused, or unknown environmentId"},
    403: {
        "model": ErrorBody,
        "description": "Missing, invalid or revoked token, or its role lacks "
        "createSegment (a new segment) or updateIncluded (members)",
    },
    404: {"model": ErrorBody, "description": "Unknown integration key"},
    409: {
        "model": ErrorBody,
        "description": "A segment exists with another context kind (or is synced by "
        "another integration); nothing applied",
    },
    413: {"model": ErrorBody, "description": "Body over the size limit"},
    429: {
        "model": ErrorBody,
        "description": "Rate limited; X-Ratelimit-Reset is when to retry (epoch ms)",
    },
    503: {
        "model": ErrorBody,
        "description": "Segment store unavailable; nothing applied; see Retry-After",
    },
}
INGEST_EXTRA = {
    "requestBody": {
        "required": True,
        "description": "The partner's body, in the shape its manifest describes",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    "security": [{"accessToken": []}],
}
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Invalid request"),
        (403, "Missing, invalid or revoked token, or its role lacks the action"),
        (404, "Unknown environment or segment"),
        (429, "Rate limited; X-Ratelimit-Reset is when to retry (epoch ms)"),
        (503, "Segment store unavailable; see Retry-After"),
    )
}


def openapi_without_422(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, less the 422 responses it assumes (refusals here are 400)."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        for path in schema["paths"].values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        schemas = schema.get("components", {}).get("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        app.openapi_schema = schema
    return app.openapi_schema
