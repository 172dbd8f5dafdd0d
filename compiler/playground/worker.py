"""Tries in a process of their own, stopped after a time limit.

A try runs the partner's manifest on the partner's body. A matcher can take minutes on
a long action, and the compiler refuses only the exponential ones (matcher-backtracks):
`x\\w+_added` on a body of x's is quadratic. A thread cannot be stopped, but a process
can: the server hands each try to one child process, and when an answer takes longer
than the limit it kills the child, answers with a diagnostic that says what happened,
and starts a fresh child for the next try. The child keeps the compiler's caches (black
and its shapes) from one try to the next, as the server's own process did.
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.connection import Connection
from typing import Any, Optional

from . import api

TRY_SECONDS = 10.0  # the default of `playground --try-seconds`


class TryProcess:
    """answer(raw) as api.answer_try(raw), run in a child process, at most `seconds`."""

    def __init__(self, seconds: float = TRY_SECONDS) -> None:
        self.seconds = seconds
        # spawn: a fresh interpreter, not a fork of this threaded server
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()  # one try at a time: the page sends one anyway
        self._child: Optional[Any] = None  # a multiprocessing Process
        self._pipe: Optional[Connection] = None

    def start(self) -> None:
        """Start the child now (its imports take a second), rather than on a first try."""
        with self._lock:
            self._ensure_child()

    def answer(self, raw: bytes) -> api.Answer:
        with self._lock:
            try:
                pipe = self._ensure_child()
                pipe.send_bytes(raw)
                if pipe.poll(self.seconds):
                    status, document = pipe.recv()
                    return api.Answer(status, document)
                stopped = api.stopped(api.key_of(raw), self.seconds)
            except (
                EOFError,
                OSError,
            ) as gone:  # the child died (killed, out of memory)
                stopped = api.internal_error(api.key_of(raw), gone)
            self._stop_child()
            return api.Answer(200, stopped)

    def close(self) -> None:
        with self._lock:
            self._stop_child()

    def _ensure_child(self) -> Connection:
        if self._child is None or self._pipe is None or not self._child.is_alive():
            self._stop_child()
            ours, theirs = self._context.Pipe()
            self._child = self._context.Process(
                target=_serve, args=(theirs,), name="playground-try", daemon=True
            )
            self._child.start()
            theirs.close()
            self._pipe = ours
        return self._pipe

    def _stop_child(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child.join()
            self._child = None
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None


def _serve(pipe: Connection) -> None:
    """The child: each request's bytes in, (status, document) out, until the pipe
    closes."""
    while True:
        try:
            raw = pipe.recv_bytes()
        except (EOFError, OSError):
            return
        answer = api.answer_try(raw)
        pipe.send((answer.status, answer.document))
