"""`GET /healthz`: whether the service can answer, for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter

from ..store import Registry
from .openapi import ERRORS


def health_api(registry: Registry) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz", tags=["operations"], responses={503: ERRORS[503]})
    def health() -> dict[str, str]:
        """200 when the store answers (for readiness checks); no token needed."""
        registry.ping()
        return {"status": "ok"}

    return router
