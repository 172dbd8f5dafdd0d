"""The ingest route, `POST /api/v2/segment-targets/{integrationKey}`: a partner's sync.

Checks in this order: integration, token, rate, role, size, body, store (service/README.md
lists every answer). Every answer goes through the generated runtime, so an integration
with a jsonResponseBody gets its body on every status, the service's own (403, 409,
503...) included.
"""

from __future__ import annotations

import logging
import time
from types import ModuleType
from typing import Annotated, Optional

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State

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
from ..metrics import INGEST_ROUTE
from ..settings import Settings
from ..store import (
    ChangeResult,
    ContextKindConflict,
    CreationRefused,
    Environment,
    IntegrationConflict,
    RateLimiter,
    Registry,
    SegmentStore,
    StoreUnavailable,
)
from .errors import RETRY_AFTER_SECONDS
from .openapi import INGEST_EXTRA, INGEST_OPERATION, INGEST_RESPONSES

log = logging.getLogger("service.ingest")

# (status, headers, body), as the generated runtime answers
RawResponse = tuple[int, dict[str, str], bytes]
NOTHING_APPLIED = "; nothing was applied"
IntegrationKey = Annotated[str, Path(alias="integrationKey")]


class Ingest:
    """Parse a body with the integration's generated module, then apply it to the store."""

    def __init__(
        self, registry: Registry, store: SegmentStore, public_url: str
    ) -> None:
        self.registry = registry
        self.store = store
        self.public_url = public_url

    def apply_body(
        self, module: ModuleType, principal: Principal, body: bytes, notes: State
    ) -> RawResponse:
        """400, 403, 409, 503 or success for one request body; 500 only for a bug.

        The members really added and removed are noted on notes (the request's state)
        for the request log.
        """
        doc: object = None
        environment: Optional[Environment] = None
        try:
            doc, sync = generated.read_request(module.parse, body)
            if isinstance(sync, ParseError):
                raise sync
            environment = self.registry.environment_by_client_id(sync.environment_id)
            if environment is None:
                raise unknown_environment(sync.environment_id)
            if changes_members(sync) and not principal.allows(UPDATE_INCLUDED):
                message = not_allowed(principal, UPDATE_INCLUDED, "changing members")
                raise ParseError(403, "action_not_allowed", message + NOTHING_APPLIED)
            notes.members_added, notes.members_removed = self.apply(
                environment, sync, principal
            )
            return generated.success_response(
                module,
                doc,
                sync,
                self.public_url,
                environment.project_key,
                environment.environment_key,
            )
        except ParseError as error:
            return self.refuse(module, doc, error, environment)
        except StoreUnavailable as error:
            log.warning("%s", error)
            return self.unavailable(module, doc, environment)
        except Exception:
            log.exception("bug while applying a request")
            internal = ParseError(500, "internal_error", "internal error")
            return self.refuse(module, doc, internal, environment)

    def apply(
        self, environment: Environment, sync: SyncRequest, principal: Principal
    ) -> tuple[int, int]:
        """store.apply, its refusals as the ParseError of their status; the members it
        really (added, removed)."""
        started = time.perf_counter()
        results: list[ChangeResult] = []
        try:
            results = self.store.apply(
                environment, sync, may_create=principal.allows(CREATE_SEGMENT)
            )
        except CreationRefused as refusal:
            raise ParseError(403, "action_not_allowed", str(refusal)) from None
        except ContextKindConflict as conflict:
            raise ParseError(409, "context_kind_conflict", str(conflict)) from None
        except IntegrationConflict as conflict:
            raise ParseError(409, "integration_conflict", str(conflict)) from None
        finally:  # refused and failed applies take time too
            integration = metrics.integration_label(sync.integration_key)
            seconds = time.perf_counter() - started
            added_removed = metrics.observe_apply(integration, seconds, results)
        return added_removed

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
    ) -> RawResponse:
        error = ParseError(
            503,
            "store_unavailable",
            "the segment store is unavailable; nothing was applied, retry later",
        )
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


class BodyTooLarge(Exception):
    pass


def too_large(limit: int) -> str:
    return f"request body is larger than the limit of {limit} bytes"


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


def as_response(response: RawResponse) -> Response:
    status, headers, body = response
    return Response(content=body, status_code=status, headers=headers)


def ingest_api(
    settings: Settings,
    registry: Registry,
    store: SegmentStore,
    limiter: RateLimiter,
) -> APIRouter:
    """The segment-targets route."""
    router = APIRouter()
    ingest = Ingest(registry, store, settings.public_url)

    @router.post(
        INGEST_ROUTE,
        operation_id=INGEST_OPERATION,
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
        request.state.integration = metrics.integration_label(integration_key)
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
            metrics.rate_limited(INGEST_ROUTE)
            error = ParseError(429, "rate_limited", refusal.message(limiter.limit))
            return ingest.refuse(module, None, error, None, refusal.headers())
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
        return await run_in_threadpool(
            ingest.apply_body, module, principal, body, request.state
        )

    return router
