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
from ..logs import REQUEST_ID
from .request_id import HEADER as REQUEST_ID_HEADER
from .request_id import request_id_of

log = logging.getLogger("service.http")

_TOKEN_LIKE = re.compile(r"api-[0-9a-f]{12}-[A-Za-z0-9_-]+")
# C0 and C1 controls, DEL, and the line and paragraph separators: a percent-decoded
# path holding one could forge a log line (%0a) or rewrite one on a terminal (%1b).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """text with each control character written as a Python escape (\\n, \\x1b, ...)."""
    if text.isprintable():  # holds none of _CONTROL: 0.05 us, where sub takes 0.2
        return text
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


def logged_path(path: str) -> str:
    """A request path as the log shows it: no token, no control character."""
    # a token pasted into a URL by mistake is still not written down
    if "api-" in path:
        path = _TOKEN_LIKE.sub("api-<redacted>", path)
    return printable(path)


class AccessLog:
    """ASGI middleware: client, method, path, status, time, token id (never a token).

    It also gives the request its id (request_id.py): in scope["state"], in REQUEST_ID
    for every line written meanwhile, and in the answer's X-Request-Id. One layer, one
    wrapper of `send`, rather than a request-id middleware around this one: each layer
    costs a coroutine and a closure call per message.

    In JSON (--log-format json) the line also carries the request id (the formatter
    takes it from REQUEST_ID, still set) and, for a sync, the integration and the
    members added and removed, as the ingest route noted them in scope["state"]. A
    request answered nothing is logged with the status its handler left in
    scope["state"]["status"] (499: the client went away), else 500.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope.get("headers", ()))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        id_header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        status = None

        async def send_noted(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), id_header]
                message = {**message, "headers": headers}
            await send(message)

        reset = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_noted)
        finally:
            seconds = time.perf_counter() - started
            if status is None:
                status = state.get("status", 500)
            try:
                self.log(scope, state, status, seconds)  # with its REQUEST_ID still set
            finally:
                REQUEST_ID.reset(reset)

    @staticmethod
    def log(
        scope: dict[str, Any], state: dict[str, Any], status: int, seconds: float
    ) -> None:
        """The request's line and its metrics."""
        client = scope.get("client") or ("-", 0)
        method = printable(scope.get("method", "-"))
        path = logged_path(scope.get("path", ""))
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
                    "client": client[0],
                }
            },
        )
        metrics.observe_request(metrics.route_label(scope), method, status, seconds)
        if integration is not None:
            metrics.observe_sync(integration, status)
