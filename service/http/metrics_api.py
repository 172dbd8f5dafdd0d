"""`GET /metrics`: this process's metrics in Prometheus's text format (service/metrics.py).

No token, like the health routes: scrapers and orchestrators reach it without one, and
it tells only counts by route, status and integration key, never a token, environment,
segment or member. Where even those counts are private, keep the port off the public
network, as for /readyz.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from .. import metrics


def metrics_api() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/metrics",
        operation_id="getMetrics",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text exposition format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    def prometheus_metrics() -> Response:
        """Request counts and latencies, syncs and members applied, store errors."""
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return router
