"""The request log: one line per request, with the token id and never a token."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

log = logging.getLogger("service.http")

_TOKEN_LIKE = re.compile(r"api-[0-9a-f]{12}-[A-Za-z0-9_-]+")


class AccessLog:
    """ASGI middleware: client, method, path, status, time, token id (never a token)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        started = time.perf_counter()
        status = 500  # unless the app answers

        async def send_and_note(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            client = scope.get("client") or ("-", 0)
            # a token pasted into a URL by mistake is still not written down
            path = _TOKEN_LIKE.sub("api-<redacted>", scope.get("path", ""))
            log.info(
                "%s %s %s %d %.1fms token=%s",
                client[0],
                scope.get("method", "-"),
                path,
                status,
                (time.perf_counter() - started) * 1000,
                state.get("token_id", "-"),
            )
