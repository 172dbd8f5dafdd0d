"""Every refusal of the read API as {"code", "message"}: never FastAPI's 422 or a traceback."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from .. import metrics
from ..store import StoreUnavailable

log = logging.getLogger("service.http")

RETRY_AFTER_SECONDS = 1  # how soon to retry when the store is unavailable


class ApiError(Exception):
    """A refusal of the read API: answered as {"code", "message"} with its status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Optional[dict[str, str]] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_json(
    status: int, code: str, message: str, headers: Optional[Mapping[str, str]] = None
) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message}, status_code=status, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    """Each refusal of FastAPI's routes as {"code", "message"} with its status."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_json(error.status, error.code, error.message, error.headers)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, error: StoreUnavailable) -> Response:
        log.warning("%s", error)
        metrics.store_error(metrics.route_label(request.scope))
        return error_json(
            503,
            "store_unavailable",
            "the segment store is unavailable; retry later",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(
        request: Request, error: RequestValidationError
    ) -> JSONResponse:
        return error_json(400, "invalid_request", validation_message(error))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 404:
            message = f"no route {request.method} {request.url.path}"
            return error_json(404, "not_found", message)
        if error.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
            return error_json(405, "method_not_allowed", message, error.headers)
        code = "http_" + str(error.status_code)
        return error_json(error.status_code, code, str(error.detail), error.headers)

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, error: ClientDisconnect) -> Response:
        # nobody reads this answer: it only tells the request log (499, as nginx)
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> JSONResponse:
        # the traceback goes to the server log (uvicorn prints it), never to the caller
        return error_json(500, "internal_error", "internal error")


def validation_message(error: RequestValidationError) -> str:
    """Pydantic's errors as one sentence naming each property: `tags.0: ...`."""
    parts = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ()) if part != "body"]
        where = ".".join(location) or "body"
        if item.get("type") == "extra_forbidden":
            parts.append(
                f'unknown property "{where}"; the properties are: '
                + ("name, description, tags")
            )
        else:
            parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)
