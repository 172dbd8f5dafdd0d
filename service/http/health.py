"""Health for load balancers and orchestrators, no token needed: `/livez`, `/readyz`, `/healthz`.

- `/livez`: the process answers (nothing else is asked: a slow store is no reason to
  restart it).
- `/readyz`: the store takes writes now: a write that must commit, at most once a second
  however often it is asked (a read-only SQLite file, a full disk or Redis down or
  refusing writes answer 503).
- `/healthz`: the store answers a read and takes writes (kept for existing checks: a
  store that reads but refuses every write is not healthy, so it says 503 as /readyz does).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Optional

from fastapi import APIRouter, Request

from .. import metrics
from ..store import Registry, StoreUnavailable
from .errors import RETRY_AFTER_SECONDS, ApiError
from .openapi import ERRORS

log = logging.getLogger("service.http")

WRITE_CHECK_EVERY = 1.0  # seconds: readiness costs at most one small commit a second


class WriteCheck:
    """Whether a write commits now; the last answer is kept for `every` seconds."""

    def __init__(self, probe: Callable[[], None], every: float = WRITE_CHECK_EVERY):
        self.probe = probe
        self.every = every
        self._checked_at = float("-inf")
        self._failure: Optional[StoreUnavailable] = None
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise StoreUnavailable (the probe's) unless the last write committed."""
        with self._lock:
            if time.monotonic() - self._checked_at >= self.every:
                failure = None
                try:
                    self.probe()
                except StoreUnavailable as error:
                    failure = error
                if (failure is None) != (self._failure is None):  # one line a change
                    if failure is None:
                        log.info("ready: the segment store takes writes again")
                    else:
                        log.warning("not ready: %s", failure)
                self._failure = failure
                self._checked_at = time.monotonic()
            if self._failure is not None:
                raise self._failure


def health_api(registry: Registry) -> APIRouter:
    router = APIRouter(tags=["operations"])
    writes = WriteCheck(registry.probe_write)

    @router.get("/livez", operation_id="getLiveness")
    async def liveness() -> dict[str, str]:
        """200 while the process answers requests; the store is not asked."""
        return {"status": "live"}

    def refuse_unless_writable(request: Request) -> None:
        try:
            writes.check()
        except StoreUnavailable:
            metrics.store_error(metrics.route_label(request.scope))
            raise ApiError(
                503,
                "store_unavailable",
                "the segment store does not take writes now (the service's log says "
                "why); retry later",
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from None

    @router.get("/readyz", operation_id="getReadiness", responses={503: ERRORS[503]})
    def readiness(request: Request) -> dict[str, str]:
        """200 when the segment store takes writes now, 503 when it does not."""
        refuse_unless_writable(request)
        return {"status": "ready"}

    @router.get("/healthz", operation_id="getHealth", responses={503: ERRORS[503]})
    def health(request: Request) -> dict[str, str]:
        """200 when the store answers a read and takes writes, 503 when it does not."""
        registry.ping()
        refuse_unless_writable(request)
        return {"status": "ok"}

    return router
