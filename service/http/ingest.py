"""The ingest route, `POST /api/v2/segment-targets/{integrationKey}`: a partner's sync.

A plain ASGI handler in front of FastAPI (http/app.py sends it every POST to this path
and to `/api/v2/segment-target/{integrationKey}`, the path LaunchDarkly's validation
server serves): routing, dependency injection and request objects cost more here than
the work itself. FastAPI still documents the route (`documented_ingest_route`), and its
405 answers other methods.

Checks in this order: integration, token, rate, role, size, body, store (service/README.md
lists every answer). Everything but the store write runs on the event loop from memory:
the token and environment come from cache.py, the rate limit is counted in memory, and a
body up to PARSE_ON_LOOP_BYTES is parsed right here. Only the write leaves the loop, for
the writer's thread (writer.py), which answers once the request is durable.

Every answer goes through the generated runtime, so an integration with a
jsonResponseBody gets its body on every status, the service's own (403, 409, 503...)
included.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import MutableMapping
from types import ModuleType
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Path, Request, Response

import generated
from generated import ParseError, SyncRequest

from .. import metrics
from ..access import (
    CREATE_SEGMENT,
    UPDATE_INCLUDED,
    AccessDenied,
    Principal,
    not_allowed,
)
from ..cache import RegistryCache
from ..metrics import INGEST_ROUTE
from ..ratelimit import ASK_STORE
from ..settings import Settings
from ..store import (
    ChangeResult,
    ContextKindConflict,
    CreationRefused,
    Environment,
    IntegrationConflict,
    PartlyApplied,
    RateLimiter,
    StoreUnavailable,
    Writer,
)
from .errors import RETRY_AFTER_SECONDS
from .openapi import INGEST_EXTRA, INGEST_OPERATION, INGEST_RESPONSES

log = logging.getLogger("service.ingest")

# (status, headers, body), as the generated runtime answers
RawResponse = tuple[int, dict[str, str], bytes]
NOTHING_APPLIED = "; nothing was applied"
PATHS = ("/api/v2/segment-targets/", "/api/v2/segment-target/")
# Bodies up to this size are parsed on the event loop: 64 KiB (about 850 Amplitude
# members) takes about 0.7 ms here, the price of a couple of thread hops. Larger ones
# are parsed in a thread so that the loop keeps answering meanwhile.
PARSE_ON_LOOP_BYTES = 64 * 1024
CLIENT_CLOSED = 499  # what the request log says of a client that went away (as nginx)


def ingest_key(path: str) -> Optional[str]:
    """The integration key of an ingest path, or None for any other path."""
    for prefix in PATHS:
        if path.startswith(prefix):
            key = path[len(prefix) :]
            return key if key and "/" not in key else None
    return None


class ClientDisconnected(Exception):
    """The client closed the connection before its body was read."""


class BodyTooLarge(Exception):
    pass


def too_large(limit: int) -> str:
    return f"request body is larger than the limit of {limit} bytes"


class IngestRoute:
    """The ASGI handler of the ingest paths (scope, receive, send, integration key)."""

    def __init__(
        self,
        settings: Settings,
        cache: RegistryCache,
        limiter: RateLimiter,
        writer: Writer,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.limiter = limiter
        self.writer = writer
        self.public_url = settings.public_url

    async def __call__(
        self, scope: dict[str, Any], receive: Any, send: Any, integration_key: str
    ) -> None:
        notes = scope.setdefault("state", {})  # for the request log and the metrics
        notes["integration"] = metrics.integration_label(integration_key)
        try:
            module = generated.module_for(integration_key)
        except ParseError as error:
            await respond(send, self.refuse(None, None, error))
            return
        try:
            response = await self.sync(module, scope, receive)
        except ClientDisconnected:
            notes["status"] = CLIENT_CLOSED
            return  # nobody to answer, and nothing was applied
        except Exception:  # a bug: still the integration's body, and no traceback
            log.exception("bug in the segment-targets endpoint")
            internal = ParseError(500, "internal_error", "internal error")
            response = self.refuse(module, None, internal)
        await respond(send, response)

    async def sync(
        self, module: ModuleType, scope: dict[str, Any], receive: Any
    ) -> RawResponse:
        authorization, declared = request_headers(scope)
        try:
            principal = self.cache.principal(authorization)
            if principal is None:  # not in memory: ask the store, off the loop
                principal = await asyncio.to_thread(
                    self.cache.authenticate, authorization
                )
        except AccessDenied as denied:
            return self.refuse(module, None, ParseError(403, denied.code, str(denied)))
        except StoreUnavailable:
            return self.unavailable(module)
        scope.setdefault("state", {})["token_id"] = principal.token_id
        try:
            refusal = self.limiter.check_from_memory(principal.token_id)
            if refusal is ASK_STORE:
                refusal = await asyncio.to_thread(
                    self.limiter.check, principal.token_id
                )
        except StoreUnavailable:
            return self.unavailable(module)
        if refusal is not None:
            metrics.rate_limited(INGEST_ROUTE)
            error = ParseError(429, "rate_limited", refusal.message(self.limiter.limit))
            return self.refuse(module, None, error, None, refusal.headers())
        if not (principal.allows(CREATE_SEGMENT) or principal.allows(UPDATE_INCLUDED)):
            actions = f"{CREATE_SEGMENT} or {UPDATE_INCLUDED}"
            message = not_allowed(principal, actions, "syncing")
            return self.refuse(
                module, None, ParseError(403, "action_not_allowed", message)
            )
        limit = self.settings.max_body
        try:
            body = await read_body(receive, limit, declared)
        except BodyTooLarge:
            error = ParseError(413, "body_too_large", too_large(limit))
            return self.refuse(module, None, error)
        if len(body) <= PARSE_ON_LOOP_BYTES:
            doc, sync = generated.read_request(module.parse, body)
        else:
            doc, sync = await asyncio.to_thread(
                generated.read_request, module.parse, body
            )
        if isinstance(sync, ParseError):
            return self.refuse(module, doc, sync)
        environment = self.cache.cached_environment(sync.environment_id)
        if environment is None:  # not in memory: ask the store, off the loop
            try:
                environment = await asyncio.to_thread(
                    self.cache.environment_by_client_id, sync.environment_id
                )
            except StoreUnavailable as error:
                log.warning("%s", error)
                return self.unavailable(module, doc)
            if environment is None:
                return self.refuse(
                    module, doc, unknown_environment(sync.environment_id)
                )
        return await self.apply(module, doc, sync, environment, principal, scope)

    async def apply(
        self,
        module: ModuleType,
        doc: object,
        sync: SyncRequest,
        environment: Environment,
        principal: Principal,
        scope: dict[str, Any],
    ) -> RawResponse:
        """The role's last check, the write, and the answer once it is durable."""
        if changes_members(sync) and not principal.allows(UPDATE_INCLUDED):
            message = not_allowed(principal, UPDATE_INCLUDED, "changing members")
            error = ParseError(403, "action_not_allowed", message + NOTHING_APPLIED)
            return self.refuse(module, doc, error, environment)
        started = time.perf_counter()
        results: list[ChangeResult] = []
        try:
            results = await self.writer.apply(
                environment, sync, may_create=principal.allows(CREATE_SEGMENT)
            )
        except CreationRefused as refusal:
            error = ParseError(403, "action_not_allowed", str(refusal))
            return self.refuse(module, doc, error, environment)
        except ContextKindConflict as conflict:
            error = ParseError(409, "context_kind_conflict", str(conflict))
            return self.refuse(module, doc, error, environment)
        except IntegrationConflict as conflict:
            error = ParseError(409, "integration_conflict", str(conflict))
            return self.refuse(module, doc, error, environment)
        except StoreUnavailable as error:
            log.warning("%s", error)
            partly = isinstance(error, PartlyApplied)
            return self.unavailable(module, doc, environment, partly)
        except Exception:
            log.exception("bug while applying a request")
            internal = ParseError(500, "internal_error", "internal error")
            return self.refuse(module, doc, internal, environment)
        finally:  # refused and failed applies take time too
            notes = scope.setdefault("state", {})
            notes["members_added"], notes["members_removed"] = metrics.observe_apply(
                notes["integration"], time.perf_counter() - started, results
            )
        return generated.success_response(
            module,
            doc,
            sync,
            self.public_url,
            environment.project_key,
            environment.environment_key,
        )

    def refuse(
        self,
        module: Optional[ModuleType],
        doc: object,
        error: ParseError,
        environment: Optional[Environment] = None,
        headers: Optional[dict[str, str]] = None,
    ) -> RawResponse:
        """The error as the integration answers it: its jsonResponseBody, or code+message."""
        try:
            if environment is None:  # the runtime's defaults, as generated.handle uses
                rendered = generated.error_response(module, doc, error, self.public_url)
            else:
                rendered = generated.error_response(
                    module,
                    doc,
                    error,
                    self.public_url,
                    environment.project_key,
                    environment.environment_key,
                )
        except Exception:  # a template bug must still leave the caller an answer
            log.exception("bug while rendering an error response")
            rendered = (
                error.status,
                {"Content-Type": "application/json"},
                error.body(),
            )
        status, response_headers, body = rendered
        return status, {**response_headers, **(headers or {})}, body

    def unavailable(
        self,
        module: Optional[ModuleType],
        doc: object = None,
        environment: Optional[Environment] = None,
        partly: bool = False,
    ) -> RawResponse:
        message = (
            "the segment store became unavailable midway through this large request, "
            "which is applied in steps: part of it is applied; retry it to apply the rest"
            if partly
            else "the segment store is unavailable; nothing was applied, retry later"
        )
        error = ParseError(503, "store_unavailable", message)
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        metrics.store_error(INGEST_ROUTE)
        return self.refuse(module, doc, error, environment, retry)


def changes_members(sync: SyncRequest) -> bool:
    return any(change.added or change.removed for change in sync.changes)


def unknown_environment(environment_id: str) -> ParseError:
    return ParseError(
        400,
        "unknown_environment",
        f'environmentId "{environment_id}" is not a client-side id of any environment '
        "here; check the id, or add it with: python -m service environment add "
        f"{environment_id} PROJECT_KEY ENVIRONMENT_KEY",
    )


# --- ASGI, by hand


def request_headers(scope: dict[str, Any]) -> tuple[Optional[str], Optional[bytes]]:
    """(Authorization, Content-Length) of the request; ASGI names are lower case."""
    authorization = declared = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"content-length":
            declared = value
    return authorization, declared


async def read_body(receive: Any, limit: int, declared: Optional[bytes]) -> bytes:
    """The whole body, refused (BodyTooLarge) as soon as it is known to exceed limit."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()  # before reading a byte of it
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnected()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise BodyTooLarge()
        return body  # the usual case: the whole body in one message
    chunks, size = [body], len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:  # a chunked body, or one longer than it said
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(send: Any, response: RawResponse) -> None:
    status, headers, body = response
    raw = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in headers.items()
    ]
    if status != 204:  # a 204 has no body and no Content-Length (RFC 9110 8.6)
        raw.append((b"content-length", str(len(body)).encode("ascii")))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


# --- the route's documentation in FastAPI

IntegrationKey = Annotated[str, Path(alias="integrationKey")]


class _Delegate(Response):
    """A FastAPI response that hands the request to the ingest handler."""

    def __init__(self, route: IngestRoute, integration_key: str) -> None:
        super().__init__()
        self.route = route
        self.integration_key = integration_key

    async def __call__(
        self, scope: MutableMapping[str, Any], receive: Any, send: Any
    ) -> None:
        await self.route(
            dict(scope) if not isinstance(scope, dict) else scope,
            receive,
            send,
            self.integration_key,
        )


def documented_ingest_route(route: IngestRoute) -> APIRouter:
    """The ingest paths as FastAPI knows them: documented (openapi.py fills in the
    operation), and answering 405 to other methods. Requests reach IngestRoute directly
    (http/app.py); one that came this way would be handed to it all the same."""
    router = APIRouter()

    async def sync_segment_targets(
        integration_key: IntegrationKey, request: Request
    ) -> Response:
        """Checks in this order: integration, token, rate, role, size, body, store."""
        return _Delegate(route, integration_key)

    router.add_api_route(
        INGEST_ROUTE,
        sync_segment_targets,
        methods=["POST"],
        operation_id=INGEST_OPERATION,
        summary="Sync a partner's cohort into a segment",
        status_code=204,
        response_class=Response,
        responses=INGEST_RESPONSES,
        openapi_extra=INGEST_EXTRA,
        tags=["sync"],
    )
    # the path LaunchDarkly's validation server serves: the same route, not documented
    # twice (a client generated from the document uses the one above)
    router.add_api_route(
        "/api/v2/segment-target/{integrationKey}",
        sync_segment_targets,
        methods=["POST"],
        include_in_schema=False,
    )
    return router
