"""uvicorn's httptools protocol with a request-read timeout beside its keep-alive one.

uvicorn closes a keep-alive connection left idle after a response (`timeout_keep_alive`),
but it waits forever for a connection that never sends a request, or sends half of one.
Here a connection must send its first byte within the keep-alive timeout, and each
request must arrive whole (headers and body) within REQUEST_TIMEOUT of its first byte;
otherwise the connection is closed. A handler still reading that body then sees the
client gone (a 499 in the request log, nothing applied).
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

KEEP_ALIVE_TIMEOUT = 5.0  # seconds idle before and between requests
REQUEST_TIMEOUT = 30.0  # seconds for a whole request to arrive, from its first byte


def timed_protocol(request_timeout: float) -> type:
    """HttpToolsProtocol closing connections whose request takes too long to arrive."""

    class TimedHttpToolsProtocol(HttpToolsProtocol):
        _read_timer: Optional[asyncio.TimerHandle] = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            # nothing sent yet: as idle as a kept-alive connection
            self._arm(self.timeout_keep_alive)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm(request_timeout)

        def on_message_complete(self) -> None:
            self._disarm()  # the request is in: what follows is the app's time
            super().on_message_complete()

        def connection_lost(self, exc: Optional[Exception]) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._read_timer = self.loop.call_later(seconds, self._read_timed_out)

        def _disarm(self) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
                self._read_timer = None

        def _read_timed_out(self) -> None:
            self._read_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return TimedHttpToolsProtocol
