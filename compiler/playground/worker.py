"""Tries in a process of their own, stopped after a time limit.

A try runs the partner's manifest on the partner's body. A matcher can take minutes on
a long action, and the compiler refuses only the exponential ones (matcher-backtracks):
`x\\w+_added` on a body of x's is quadratic. A thread cannot be stopped, but a process
can: the server hands each try to one child process, and when an answer takes longer
than the limit it kills the child, answers with a diagnostic that says what happened,
and starts a fresh child for the next try. The child keeps the compiler's caches (black
and its shapes) from one try to the next, as the server's own process did.

The limit is the try's alone. A fresh child first imports the compiler and runs one
small try of its own, formatted with black (black's grammar, the runtime's formatting,
the templates and the schema are loaded on a first use), about 2.3 s here and more on a
loaded machine. It says it is ready after that, and only then does a try's clock start.
A limit of 1 s would otherwise stop the first try after every kill, however quick.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from multiprocessing.connection import Connection
from typing import Any, Optional

from . import api

TRY_SECONDS = 10.0  # the default of `playground --try-seconds`
STARTUP_SECONDS = 120.0  # a child not ready by then is broken, not slow
READY = "ready"  # what a child sends once warmed up

# The child's own first try: a small manifest and body, with each feature a first use
# pays for (a matcher, a member array, a response template, black).
WARM_UP = json.dumps(
    {
        "key": "warm-up",
        "black": True,  # the runtime's formatting, remembered for every later try
        "manifest": json.dumps(
            {
                "name": "Warm-up",
                "version": "1.0.0",
                "overview": "The try process's first try.",
                "description": "The try process's first try.",
                "author": "segment-sync",
                "categories": ["segments"],
                "capabilities": {
                    "syncedSegment": {
                        "requestParser": {
                            "environmentIdPath": "/env",
                            "cohortIdPath": "/cohort",
                            "cohortNamePath": "/cohort",
                            "arrayInclusion": {"path": "/action", "matcher": "^add$"},
                            "memberArrayPath": "/members",
                            "memberArrayParser": {"memberIdPath": "/id"},
                        },
                        "jsonResponseBody": (
                            '{"segment": "{{segmentKey}}"{{#if errorMessage}}, '
                            '"error": "{{errorMessage}}"{{/if}} }'
                        ),
                    }
                },
            }
        ),
        "body": json.dumps(
            {"env": "e", "cohort": "c", "action": "add", "members": [{"id": "u"}]}
        ),
    }
).encode("utf-8")


class TryProcess:
    """answer(raw) as api.answer_try(raw), run in a child process, at most `seconds`."""

    def __init__(self, seconds: float = TRY_SECONDS) -> None:
        self.seconds = seconds
        # spawn: a fresh interpreter, not a fork of this threaded server
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()  # one try at a time: the page sends one anyway
        self._child: Optional[Any] = None  # a multiprocessing Process
        self._pipe: Optional[Connection] = None
        self._ready = False  # has the child said READY?

    def start(self) -> None:
        """Start the child now, so that it warms up before a first try, not during it."""
        with self._lock:
            self._ensure_child()

    def answer(self, raw: bytes) -> api.Answer:
        with self._lock:
            try:
                pipe = self._ready_child()
                pipe.send_bytes(raw)
                if pipe.poll(self.seconds):
                    status, document = pipe.recv()
                    return api.Answer(status, document)
                stopped = api.stopped(api.key_of(raw), self.seconds)
            except (
                EOFError,
                OSError,
            ) as gone:  # the child died (killed, out of memory) or never started
                stopped = api.internal_error(api.key_of(raw), gone)
            self._stop_child()
            self._ensure_child()  # the next try's child warms up while this answer is read
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
            self._ready = False
        return self._pipe

    def _ready_child(self) -> Connection:
        """The child's pipe once it has warmed up: a try's clock starts after this."""
        pipe = self._ensure_child()
        if not self._ready:
            if not pipe.poll(STARTUP_SECONDS):
                raise TimeoutError(
                    f"the try process did not start in {STARTUP_SECONDS:g} s"
                )
            if pipe.recv() != READY:
                raise OSError(
                    "the try process said something other than that it was ready"
                )
            self._ready = True
        return pipe

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
    api.answer_try(WARM_UP)
    pipe.send(READY)
    while True:
        try:
            raw = pipe.recv_bytes()
        except (EOFError, OSError):
            return
        answer = api.answer_try(raw)
        pipe.send((answer.status, answer.document))
