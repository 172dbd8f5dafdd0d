"""The request log: one line per request, with the token id and never a token.

The same place feeds the request metrics (service/metrics.py): it is the one that sees
every request end.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from .. import metrics

log = logging.getLogger("service.http")

_TOKEN_LIKE = re.compile(r"api-[0-9a-f]{12}-[A-Za-z0-9_-]+")


class AccessLog:
    """ASGI middleware: client, method, path, status, time, token id (never a token).

    In JSON (--log-format json) the line also carries the request id and, for a sync,
    the integration and the members added and removed, as the ingest route noted them
    in scope["state"].
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        started = time.perf_counter()
        status = 500  # unless the app answers

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            seconds = time.perf_counter() - started
            client = scope.get("client") or ("-", 0)
            method = scope.get("method", "-")
            # a token pasted into a URL by mistake is still not written down
            path = _TOKEN_LIKE.sub("api-<redacted>", scope.get("path", ""))
            token_id = state.get("token_id")
            integration = state.get("integration")
            log.info(
                "%s %s %s %d %.1fms token=%s",
                client[0],
                method,
                path,
                status,
                seconds * 1000,
                token_id or "-",
                extra={
                    "fields": {
                        "method": method,
                        "path": path,
                        "status": status,
                        "integration": integration,
                        "added": state.get("members_added"),
                        "removed": state.get("members_removed"),
                        "duration_ms": round(seconds * 1000, 3),
                        "token_id": token_id,
                        "request_id": state.get("request_id"),
                        "client": client[0],
                    }
                },
            )
            metrics.observe_request(metrics.route_label(scope), method, status, seconds)
            if integration is not None:
                metrics.observe_sync(integration, status)
