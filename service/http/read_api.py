"""The read API and PATCH, for people and SDKs: FastAPI routes, documented in /openapi.json.

Every route takes a token whose role allows its action (viewSegment, updateSegment) and
counts against the token's rate limit, like the ingest route. Plain `def` routes: FastAPI
runs them in its thread pool, so a store read never blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Optional, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Security
from fastapi.security import APIKeyHeader

from .. import metrics
from ..access import UPDATE_SEGMENT, VIEW_SEGMENT, AccessDenied, Principal, not_allowed
from ..cache import RegistryCache
from ..sdk import sdk_segments
from ..store import DetailsPatch, Environment, RateLimiter, Registry, SegmentStore
from .errors import ApiError
from .models import (
    Inclusion,
    MemberPage,
    SdkSegments,
    SegmentDetails,
    SegmentOut,
    SegmentPage,
    segment_out,
)
from .openapi import errors_of

MAX_PAGE = 1000  # largest page of segments or members
ENVIRONMENT = "/api/v2/projects/{projectKey}/environments/{environmentKey}"
SEGMENTS = ENVIRONMENT + "/segments"

# Path parameters are camelCase in URLs and documents, as in SPEC and LaunchDarkly's API.
ProjectKey = Annotated[str, Path(alias="projectKey")]
EnvironmentKey = Annotated[str, Path(alias="environmentKey")]
SegmentKey = Annotated[str, Path(alias="segmentKey")]
ContextKey = Annotated[str, Path(alias="contextKey")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Cursor = Annotated[Optional[str], Query(description="nextCursor of the previous page")]

TOKEN_HEADER = APIKeyHeader(
    name="Authorization",
    scheme_name="accessToken",
    description="An access token, bare or as `Bearer <token>`",
    auto_error=False,
)


Item = TypeVar("Item")


def page_after(
    items: list[Item], limit: int, key: Callable[[Item], str]
) -> tuple[list[Item], Optional[str]]:
    """Items fetched with limit + 1: the page, and the cursor of the next one if any."""
    if len(items) <= limit:
        return items, None
    page = items[:limit]
    return page, key(page[-1])


def read_api(
    cache: RegistryCache, registry: Registry, store: SegmentStore, limiter: RateLimiter
) -> APIRouter:
    """The routes under /api/v2/projects/{projectKey}/environments/{environmentKey}."""
    router = APIRouter()

    def authorize(action: str) -> Any:
        """A dependency: the request's principal, when its role allows action."""

        def principal_allowed(
            request: Request, authorization: Optional[str] = Security(TOKEN_HEADER)
        ) -> Principal:
            try:
                principal = cache.authenticate(authorization)
            except AccessDenied as denied:
                raise ApiError(403, denied.code, str(denied)) from None
            request.state.token_id = principal.token_id
            refusal = limiter.check(principal.token_id)
            if refusal is not None:
                metrics.rate_limited(metrics.route_label(request.scope))
                message = refusal.message(limiter.limit)
                raise ApiError(429, "rate_limited", message, refusal.headers())
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

    @router.get(
        SEGMENTS,
        operation_id="listSegments",
        response_model=SegmentPage,
        responses=errors_of(400, 403, 404, 429, 503),
        tags=["read"],
    )
    def list_segments(
        project_key: ProjectKey,
        environment_key: EnvironmentKey,
        limit: Limit = 100,
        cursor: Cursor = None,
        principal: Principal = may_view,
    ) -> SegmentPage:
        """The segments of an environment, by key."""
        environment = environment_of(project_key, environment_key)
        segments = store.list_segments(environment, limit + 1, cursor)
        page, next_cursor = page_after(segments, limit, lambda s: s.key)
        return SegmentPage(
            items=[segment_out(s) for s in page], next_cursor=next_cursor
        )

    @router.get(
        ENVIRONMENT + "/sdk-segments",
        operation_id="listSdkSegments",
        response_model=SdkSegments,
        responses=errors_of(403, 404, 429, 503),
        tags=["read"],
    )
    def list_sdk_segments(
        project_key: ProjectKey,
        environment_key: EnvironmentKey,
        principal: Principal = may_view,
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """Every segment's definition as LaunchDarkly's server-side SDKs read it.

        `{"segments": {key: definition}}`: merge it with a file data source's
        `{"flags": ...}` (or give the SDK both files), or give a definition to TestData.
        The members stay in the Big Segment store (Redis, or the SQLite file through
        segment_sync_sdk), so the definitions change only when a segment is created.
        """
        environment = environment_of(project_key, environment_key)
        return {"segments": sdk_segments(store, environment)}

    @router.get(
        SEGMENTS + "/{segmentKey:path}/members",
        operation_id="listSegmentMembers",
        response_model=MemberPage,
        responses=errors_of(400, 403, 404, 429, 503),
        tags=["read"],
    )
    def list_members(
        project_key: ProjectKey,
        environment_key: EnvironmentKey,
        segment_key: SegmentKey,
        limit: Limit = 100,
        cursor: Cursor = None,
        principal: Principal = may_view,
    ) -> MemberPage:
        """A page of a segment's members (context keys), in key order."""
        environment = environment_of(project_key, environment_key)
        members = store.members(environment, segment_key, limit + 1, cursor)
        if members is None:
            raise no_segment(segment_key)
        page, next_cursor = page_after(members, limit, lambda key: key)
        return MemberPage(items=page, next_cursor=next_cursor)

    @router.get(
        SEGMENTS + "/{segmentKey:path}/included/{contextKey:path}",
        operation_id="getSegmentInclusion",
        response_model=Inclusion,
        responses=errors_of(403, 404, 429, 503),
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

    @router.get(
        SEGMENTS + "/{segmentKey:path}",
        operation_id="getSegment",
        response_model=SegmentOut,
        responses=errors_of(403, 404, 429, 503),
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

    @router.patch(
        SEGMENTS + "/{segmentKey:path}",
        operation_id="updateSegment",
        response_model=SegmentOut,
        responses=errors_of(400, 403, 404, 429, 503),
        tags=["edit"],
    )
    def update_segment(
        project_key: ProjectKey,
        environment_key: EnvironmentKey,
        segment_key: SegmentKey,
        details: SegmentDetails,
        principal: Principal = may_edit,
    ) -> SegmentOut:
        """Change name, description or tags; later syncs keep what is set here.

        A property left out keeps its value, so `{}` changes nothing and answers the
        segment as it is (a JSON merge patch, RFC 7396, without null).
        """
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

    return router
