"""The HTTP app: the segment-targets endpoint, the read API and PATCH, on FastAPI.

Store calls run in the thread pool (the event loop never waits on SQLite). The ingest
route reads the raw body and hands it to the generated runtime: no second JSON model.
"""

from __future__ import annotations

import logging
import re
import time
from types import ModuleType
from typing import Annotated, Any, Optional

from fastapi import Depends, FastAPI, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

import generated
from generated import ParseError

from .access import (
    CREATE_SEGMENT,
    UPDATE_INCLUDED,
    UPDATE_SEGMENT,
    VIEW_SEGMENT,
    Principal,
    not_allowed,
)
from .backends import AnyLimiter, AnyRegistry
from .ingest import RETRY_AFTER_SECONDS, Ingest, RawResponse
from .models import (
    ERRORS,
    INGEST_EXTRA,
    INGEST_RESPONSES,
    Inclusion,
    MemberPage,
    SegmentDetails,
    SegmentOut,
    SegmentPage,
    segment_out,
)
from .ratelimit import RateLimiter, Refusal
from .registry import AccessDenied
from .settings import Settings
from .store import DetailsPatch, Environment, SegmentStore, StoreUnavailable

log = logging.getLogger("service.http")

MAX_PAGE = 1000  # largest page of segments or members
SEGMENTS = "/api/v2/projects/{projectKey}/environments/{environmentKey}/segments"

# Path parameters are camelCase in URLs and documents, as in SPEC and LaunchDarkly's API.
IntegrationKey = Annotated[str, Path(alias="integrationKey")]
ProjectKey = Annotated[str, Path(alias="projectKey")]
EnvironmentKey = Annotated[str, Path(alias="environmentKey")]
SegmentKey = Annotated[str, Path(alias="segmentKey")]
ContextKey = Annotated[str, Path(alias="contextKey")]


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


class BodyTooLarge(Exception):
    pass


def page_after(items: list, limit: int, key: Any) -> tuple[list, Optional[str]]:
    """Items fetched with limit + 1: the page, and the cursor of the next one if any."""
    if len(items) <= limit:
        return items, None
    page = items[:limit]
    return page, key(page[-1])


def create_app(
    settings: Settings,
    registry: AnyRegistry,
    store: SegmentStore,
    limiter: Optional[AnyLimiter] = None,
) -> FastAPI:
    """The ASGI app over a registry (tokens, environments) and a segment store.

    The limiter defaults to one in memory; processes sharing a store share one in it.
    """
    app = FastAPI(
        title="Segment sync service",
        version="0.1.0",
        description="Partners sync cohorts into segments; people and SDKs read them.",
    )
    app.add_middleware(AccessLog)
    if limiter is None:
        limiter = RateLimiter(settings.rate_limit)
    ingest = Ingest(registry, store, settings.public_url)
    token_header = APIKeyHeader(
        name="Authorization",
        scheme_name="accessToken",
        description="An access token, bare or as `Bearer <token>`",
        auto_error=False,
    )

    # --- the segment-targets endpoint

    @app.post(
        "/api/v2/segment-targets/{integrationKey}",
        summary="Sync a partner's cohort into a segment",
        status_code=204,
        response_class=Response,
        responses=INGEST_RESPONSES,
        openapi_extra=INGEST_EXTRA,
        tags=["sync"],
    )
    async def sync_segment_targets(
        integration_key: IntegrationKey, request: Request
    ) -> Response:
        """Checks in this order: integration, token, rate, role, size, body, store."""
        try:
            module = generated.module_for(integration_key)
        except ParseError as error:
            return as_response(ingest.refuse(None, None, error))
        try:
            return as_response(await checked_sync(module, request))
        except Exception:  # a bug: still the integration's body, and no traceback
            log.exception("bug in the segment-targets endpoint")
            internal = ParseError(500, "internal_error", "internal error")
            return as_response(ingest.refuse(module, None, internal))

    async def checked_sync(module: ModuleType, request: Request) -> RawResponse:
        """The checks that need no body, then the body read, parsed and applied."""
        try:
            principal = await run_in_threadpool(
                registry.authenticate, request.headers.get("authorization")
            )
        except AccessDenied as denied:
            return ingest.refuse(
                module, None, ParseError(403, denied.code, str(denied))
            )
        except StoreUnavailable:
            return ingest.unavailable(module)
        request.state.token_id = principal.token_id
        try:
            refusal = await run_in_threadpool(limiter.check, principal.token_id)
        except StoreUnavailable:
            return ingest.unavailable(module)
        if refusal is not None:
            error = ParseError(429, "rate_limited", rate_limited(limiter, refusal))
            return ingest.refuse(module, None, error, None, rate_limit_headers(refusal))
        if not (principal.allows(CREATE_SEGMENT) or principal.allows(UPDATE_INCLUDED)):
            actions = f"{CREATE_SEGMENT} or {UPDATE_INCLUDED}"
            message = not_allowed(principal, actions, "syncing")
            return ingest.refuse(
                module, None, ParseError(403, "action_not_allowed", message)
            )
        try:
            body = await read_body(request, settings.max_body)
        except BodyTooLarge:
            error = ParseError(413, "body_too_large", too_large(settings.max_body))
            return ingest.refuse(module, None, error)
        return await run_in_threadpool(ingest.apply_body, module, principal, body)

    # --- the read API and PATCH

    def authorize(action: str) -> Any:
        """A dependency: the request's principal, when its role allows action."""

        def principal_allowed(
            request: Request, authorization: Optional[str] = Security(token_header)
        ) -> Principal:
            try:
                principal = registry.authenticate(authorization)
            except AccessDenied as denied:
                raise ApiError(403, denied.code, str(denied)) from None
            request.state.token_id = principal.token_id
            refusal = limiter.check(principal.token_id)
            if refusal is not None:
                raise ApiError(
                    429,
                    "rate_limited",
                    rate_limited(limiter, refusal),
                    rate_limit_headers(refusal),
                )
            if not principal.allows(action):
                purpose = "editing a segment" if action == UPDATE_SEGMENT else "reading"
                message = not_allowed(principal, action, purpose)
                raise ApiError(403, "action_not_allowed", message)
            return principal

        return principal_allowed

    may_view = Depends(authorize(VIEW_SEGMENT))
    may_edit = Depends(authorize(UPDATE_SEGMENT))

    def environment_of(project_key: str, environment_key: str) -> Environment:
        environment = registry.environment_by_keys(project_key, environment_key)
        if environment is None:
            raise ApiError(
                404,
                "unknown_environment",
                f'project "{project_key}" has no environment "{environment_key}"',
            )
        return environment

    def no_segment(segment_key: str) -> ApiError:
        return ApiError(404, "unknown_segment", f'no segment with key "{segment_key}"')

    @app.get(SEGMENTS, response_model=SegmentPage, responses=ERRORS, tags=["read"])
    def list_segments(
        project_key: ProjectKey,
        environment_key: EnvironmentKey,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        cursor: Annotated[
            Optional[str], Query(description="nextCursor of the previous page")
        ] = None,
        principal: Principal = may_view,
    ) -> SegmentPage:
        """The segments of an environment, by key."""
        environment = environment_of(project_key, environment_key)
        segments = store.list_segments(environment, limit + 1, cursor)
        page, next_cursor = page_after(segments, limit, lambda s: s.key)
        return SegmentPage(
            items=[segment_out(s) for s in page], next_cursor=next_cursor
        )

    @app.get(
        SEGMENTS + "/{segmentKey:path}/members",
        response_model=MemberPage,
        responses=ERRORS,
        tags=["read"],
    )
    def list_members(
        project_key: ProjectKey,
        environment_key: EnvironmentKey,
        segment_key: SegmentKey,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        cursor: Annotated[
            Optional[str], Query(description="nextCursor of the previous page")
        ] = None,
        principal: Principal = may_view,
    ) -> MemberPage:
        """A page of a segment's members (context keys), in key order."""
        environment = environment_of(project_key, environment_key)
        members = store.members(environment, segment_key, limit + 1, cursor)
        if members is None:
            raise no_segment(segment_key)
        page, next_cursor = page_after(members, limit, lambda key: key)
        return MemberPage(items=page, next_cursor=next_cursor)

    @app.get(
        SEGMENTS + "/{segmentKey:path}/included/{contextKey:path}",
        response_model=Inclusion,
        responses=ERRORS,
        tags=["read"],
    )
    def is_included(
        project_key: ProjectKey,
        environment_key: EnvironmentKey,
        segment_key: SegmentKey,
        context_key: ContextKey,
        principal: Principal = may_view,
    ) -> Inclusion:
        """Whether a segment includes a context key."""
        environment = environment_of(project_key, environment_key)
        included = store.is_included(environment, segment_key, context_key)
        if included is None:
            raise no_segment(segment_key)
        return Inclusion(
            segment_key=segment_key, context_key=context_key, included=included
        )

    @app.get(
        SEGMENTS + "/{segmentKey:path}",
        response_model=SegmentOut,
        responses=ERRORS,
        tags=["read"],
    )
    def get_segment(
        project_key: ProjectKey,
        environment_key: EnvironmentKey,
        segment_key: SegmentKey,
        principal: Principal = may_view,
    ) -> SegmentOut:
        """One segment: details, member count, created and updated times."""
        environment = environment_of(project_key, environment_key)
        segment = store.get_segment(environment, segment_key)
        if segment is None:
            raise no_segment(segment_key)
        return segment_out(segment)

    @app.patch(
        SEGMENTS + "/{segmentKey:path}",
        response_model=SegmentOut,
        responses=ERRORS,
        tags=["edit"],
    )
    def update_segment(
        project_key: ProjectKey,
        environment_key: EnvironmentKey,
        segment_key: SegmentKey,
        details: SegmentDetails,
        principal: Principal = may_edit,
    ) -> SegmentOut:
        """Change name, description or tags; later syncs keep what is set here."""
        if not details.model_fields_set:
            raise ApiError(
                400,
                "invalid_request",
                "nothing to change: send name, description or tags",
            )
        environment = environment_of(project_key, environment_key)
        patch = DetailsPatch(
            name=details.name,
            description=details.description,
            tags=None if details.tags is None else tuple(dict.fromkeys(details.tags)),
        )
        segment = store.update_details(environment, segment_key, patch)
        if segment is None:
            raise no_segment(segment_key)
        return segment_out(segment)

    @app.get("/healthz", tags=["operations"], responses={503: ERRORS[503]})
    def health() -> dict[str, str]:
        """200 when the store answers (for readiness checks); no token needed."""
        registry.ping()
        return {"status": "ok"}

    install_error_handlers(app)
    app.openapi = lambda: openapi_without_422(app)  # type: ignore[method-assign]
    return app


# --- helpers of the routes


def as_response(response: RawResponse) -> Response:
    status, headers, body = response
    return Response(content=body, status_code=status, headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused (BodyTooLarge) as soon as it is known to exceed limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()  # before reading a byte of it
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # a chunked body, or one longer than it said
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int) -> str:
    return f"request body is larger than the limit of {limit} bytes"


def rate_limited(limiter: AnyLimiter, refusal: Refusal) -> str:
    return (
        f"rate limit of {limiter.limit} for this access token reached; retry in "
        f"{refusal.retry_after} s (X-Ratelimit-Reset)"
    )


def rate_limit_headers(refusal: Refusal) -> dict[str, str]:
    return {
        "X-Ratelimit-Reset": str(int(refusal.reset_at * 1000)),
        "Retry-After": str(refusal.retry_after),
    }


def error_json(
    status: int, code: str, message: str, headers: Optional[dict[str, str]] = None
) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message}, status_code=status, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    """Every refusal as {"code", "message"}: never FastAPI's 422 or a traceback."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_json(error.status, error.code, error.message, error.headers)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, error: StoreUnavailable) -> Response:
        log.warning("%s", error)
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


# --- request log


_TOKEN_LIKE = re.compile(r"api-[0-9a-f]{12}-[A-Za-z0-9_-]+")


class AccessLog:
    """One log line per request: client, method, path, status, time, token id (never a token)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        started = time.perf_counter()
        status = 500  # unless the app answers

        async def send_and_note(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            client = scope.get("client") or ("-", 0)
            # a token pasted into a URL by mistake is still not written down
            path = _TOKEN_LIKE.sub("api-<redacted>", scope.get("path", ""))
            log.info(
                "%s %s %s %d %.1fms token=%s",
                client[0],
                scope.get("method", "-"),
                path,
                status,
                (time.perf_counter() - started) * 1000,
                state.get("token_id", "-"),
            )
