"""The ASGI app: assembles the routes, the error handlers and the request log; no route here.

- ingest.py: `POST /api/v2/segment-targets/{integrationKey}`, a partner's sync: a plain
  ASGI handler that ServiceApp calls before FastAPI sees the request
- read_api.py: the read API and PATCH, for people and SDKs (FastAPI)
- health.py: `GET /livez`, `/readyz` and `/healthz` (FastAPI)
- metrics_api.py: `GET /metrics`, for Prometheus
- errors.py: every refusal as {"code", "message"}
- access_log.py: one log line per request, never a token, the request metrics, and
  the request's X-Request-Id
- request_id.py: what that id is, the caller's or a fresh one
- protocol.py: uvicorn's protocol with a request-read timeout
- openapi.py, models.py: what /openapi.json documents, the ingest route included;
  docs.py: /docs, offline
"""

from __future__ import annotations

from typing import Any, Optional

from fastapi import FastAPI

from ..cache import RegistryCache
from ..ratelimit import MemoryRateLimiter
from ..settings import Settings
from ..store import RateLimiter, Registry, SegmentStore, Writer
from .access_log import AccessLog
from .docs import install_docs
from .errors import install_error_handlers
from .health import health_api
from .ingest import IngestRoute, documented_ingest_route, ingest_key
from .metrics_api import metrics_api
from .openapi import openapi_document
from .read_api import read_api


class ServiceApp:
    """The ASGI app: POSTs to the ingest paths go to IngestRoute, the rest to FastAPI.

    Both behind the same request log, which gives each request its id.
    """

    def __init__(self, ingest: IngestRoute, api: FastAPI, closers: list[Any]) -> None:
        self.ingest = ingest
        self.api = api
        self._closers = closers
        self._routes = AccessLog(self._route)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._routes(scope, receive, send)

    async def _route(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            key = ingest_key(scope["path"])
            if key is not None:
                await self.ingest(scope, receive, send, key)
                return
        await self.api(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document (FastAPI's, with the ingest route's filled in)."""
        return self.api.openapi()

    def close(self) -> None:
        """Stop the writer and the cache's poller (the store is closed by its owner)."""
        for closer in self._closers:
            closer.close()


def create_app(
    settings: Settings,
    registry: Registry,
    store: SegmentStore,
    limiter: Optional[RateLimiter] = None,
    writer: Optional[Writer] = None,
) -> ServiceApp:
    """The ASGI app over a registry (tokens, environments) and a segment store.

    The limiter defaults to one in memory (processes sharing a store share one in it);
    the writer to the store's own (backends.writer_for).
    """
    from ..backends import writer_for  # the backends import this module's users

    if limiter is None:
        limiter = MemoryRateLimiter(settings.rate_limit)
    if writer is None:
        writer = writer_for(store)
    cache = RegistryCache(registry)
    ingest = IngestRoute(settings, cache, limiter, writer)
    api = FastAPI(
        title="Segment sync service",
        version="0.1.0",
        description="Partners sync cohorts into segments; people and SDKs read them.",
        docs_url=None,  # docs.py serves /docs with local assets, not a CDN's
        redoc_url=None,
        redirect_slashes=False,  # a 307 would be built from the client's Host header
    )
    api.include_router(documented_ingest_route(ingest))
    api.include_router(read_api(cache, registry, store, limiter))
    api.include_router(health_api(registry))
    api.include_router(metrics_api())
    install_docs(api)
    install_error_handlers(api)
    api.openapi = lambda: openapi_document(api)  # type: ignore[method-assign]
    return ServiceApp(ingest, api, [writer, cache])
