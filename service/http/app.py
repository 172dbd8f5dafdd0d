"""The ASGI app: assembles the routes, the error handlers and the request log; no route here.

- ingest.py: `POST /api/v2/segment-targets/{integrationKey}`, a partner's sync
- read_api.py: the read API and PATCH, for people and SDKs
- health.py: `GET /livez`, `/readyz` and `/healthz`
- metrics_api.py: `GET /metrics`, for Prometheus
- errors.py: every refusal as {"code", "message"}
- access_log.py: one log line per request, never a token, and the request metrics
- request_id.py: an X-Request-Id on every answer
- openapi.py, models.py: what /openapi.json documents; docs.py: /docs, offline
"""

from __future__ import annotations

from typing import Optional

from fastapi import FastAPI

from ..ratelimit import MemoryRateLimiter
from ..settings import Settings
from ..store import RateLimiter, Registry, SegmentStore
from .access_log import AccessLog
from .docs import install_docs
from .errors import install_error_handlers
from .health import health_api
from .ingest import ingest_api
from .metrics_api import metrics_api
from .openapi import openapi_document
from .read_api import read_api
from .request_id import RequestId


def create_app(
    settings: Settings,
    registry: Registry,
    store: SegmentStore,
    limiter: Optional[RateLimiter] = None,
) -> FastAPI:
    """The ASGI app over a registry (tokens, environments) and a segment store.

    The limiter defaults to one in memory; processes sharing a store share one in it.
    """
    if limiter is None:
        limiter = MemoryRateLimiter(settings.rate_limit)
    app = FastAPI(
        title="Segment sync service",
        version="0.1.0",
        description="Partners sync cohorts into segments; people and SDKs read them.",
        docs_url=None,  # docs.py serves /docs with local assets, not a CDN's
        redoc_url=None,
    )
    app.add_middleware(AccessLog)
    app.add_middleware(RequestId)  # added last: outermost, so the log has the id
    app.include_router(ingest_api(settings, registry, store, limiter))
    app.include_router(read_api(registry, store, limiter))
    app.include_router(health_api(registry))
    app.include_router(metrics_api())
    install_docs(app)
    install_error_handlers(app)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app
