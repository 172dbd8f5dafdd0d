"""The write path of the service: one thread that owns the store's writes, callers await.

The event loop hands each sync to `Writer.apply` and awaits it; a thread of the backend
(SQLite: writer.GroupWriter, Redis: its pipelining writer) takes every request waiting,
applies them together and answers each. Batches are capped by member count, so a
million-member request is applied alone and never holds small ones it was queued with.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from generated import SyncRequest

from . import metrics
from .store import ChangeResult, Environment

log = logging.getLogger("service.writer")

# Members (added + removed) of all requests of one batch. A request with more is alone in
# its batch; requests queued behind it are taken first when they fit (measured in
# bench/apply.py: small writes behind a 16 MiB body).
MAX_BATCH_MEMBERS = 20_000
MAX_BATCH_REQUESTS = 256
# Before taking a batch, the writer lets the event loop turn until a turn hands over no
# new request (at most this long), as PostgreSQL's commit_delay does: without it, the
# first request of a burst commits alone, and every other one waits for that fsync and
# then pays its own. A request alone waits one turn of an idle loop, microseconds.
GATHER_SECONDS = 0.002
# The outcome _apply_batch gives a job it hands on instead of applying it now (Redis: a
# large request applied in steps on a thread of its own, or a request waiting for a
# segment's lease): the job is not answered with its batch; whoever took it calls
# answer() once it is done.
LATER: Any = object()


@dataclass
class Job:
    """One request waiting for the writer, and how to answer it."""

    environment: Environment
    sync: SyncRequest
    may_create: bool
    members: int
    loop: Optional[asyncio.AbstractEventLoop]
    future: Any  # an asyncio.Future on loop, or a threading-side _Waiter
    outcome: Any = field(default=None)  # list[ChangeResult], an exception, or LATER
    # monotonic time until which a writer may try the job again (Redis: while a large
    # request holds a lease on one of its segments); None before the first refusal
    retry_until: Optional[float] = None


def members_of(sync: SyncRequest) -> int:
    return sum(len(change.added) + len(change.removed) for change in sync.changes)


class _Waiter:
    """A future for callers outside an event loop (tests, scripts)."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self.outcome: Any = None

    def set(self, outcome: Any) -> None:
        self.outcome = outcome
        self._done.set()

    def wait(self) -> Any:
        self._done.wait()
        return self.outcome


class BatchingWriter:
    """A thread that applies batches of waiting jobs with _apply_batch, then answers them.

    A backend's writer overrides _apply_batch(jobs), which sets each job's outcome: the
    request's ChangeResults, the exception that refused it (a StoreError for the caller,
    anything else a bug), or LATER for a job it handed on, which is then answered by a
    later answer([job]). A backend with work of its own to do on this thread between
    batches overrides _between_batches.
    """

    def __init__(self, name: str = "writer") -> None:
        # Submissions (a C queue: cheap for the loop's thread to put into), and the jobs
        # the writer has taken from it but not applied yet (the writer's thread only).
        self._inbox: queue.SimpleQueue[Optional[Job]] = queue.SimpleQueue()
        self._pending: deque[Job] = deque()
        self._closed = False
        self.last_batch_done = time.monotonic()  # when the writer last answered a batch
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def apply(
        self, environment: Environment, sync: SyncRequest, *, may_create: bool = True
    ) -> list[ChangeResult]:
        """Apply one request with its batch; raises what refused it."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._put(Job(environment, sync, may_create, members_of(sync), loop, future))
        results: list[ChangeResult] = await future
        return results

    def apply_now(
        self, environment: Environment, sync: SyncRequest, *, may_create: bool = True
    ) -> list[ChangeResult]:
        """apply for a caller outside an event loop: blocks until answered."""
        waiter = _Waiter()
        self._put(Job(environment, sync, may_create, members_of(sync), None, waiter))
        outcome = waiter.wait()
        if isinstance(outcome, BaseException):
            raise outcome
        results: list[ChangeResult] = outcome
        return results

    def _put(self, job: Job) -> None:
        if self._closed:
            raise RuntimeError("the writer is closed")
        self._inbox.put(job)

    def _receive(self, block: bool, timeout: Optional[float] = None) -> bool:
        """Move submissions to _pending (waiting for one when block, up to timeout
        seconds if not None); False once closed."""
        try:
            job = self._inbox.get(block, timeout)
            while True:
                if job is None:
                    return False
                self._pending.append(job)
                job = self._inbox.get_nowait()
        except queue.Empty:
            return True

    def waiting(self) -> bool:
        """Whether a request waits for the writer (or close does)."""
        return bool(self._pending) or not self._inbox.empty()

    def _take_batch(self, timeout: Optional[float] = None) -> Optional[list[Job]]:
        """The head of the queue, and every later job that still fits the caps: [] when
        none came within timeout seconds (None: wait for one), None once closed and
        drained."""
        open_ = True
        if not self._pending:
            open_ = self._receive(block=True, timeout=timeout)
        if open_ and self._pending and self._pending[0].loop is not None:
            open_ = self._gather(self._pending[0].loop)
        if not self._pending:
            return [] if open_ else None
        pending = self._pending
        head = pending.popleft()
        batch, members = [head], head.members
        skipped: deque[Job] = deque()
        while pending and len(batch) < MAX_BATCH_REQUESTS:
            job = pending.popleft()
            if members + job.members <= MAX_BATCH_MEMBERS:
                batch.append(job)
                members += job.members
            else:
                skipped.append(job)  # keeps its place for the next batch
        skipped.extend(pending)
        self._pending = skipped
        if not open_:
            self._inbox.put(None)  # seen again once what is pending is done
        return batch

    def _gather(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Let loop turn while each turn hands over more requests (GATHER_SECONDS at most).

        A callback sent with call_soon_threadsafe runs once the loop has run what was
        ready before it: a small request's whole way to the writer is one such step.
        False when the writer was closed meanwhile.
        """
        deadline = time.monotonic() + GATHER_SECONDS
        while len(self._pending) < MAX_BATCH_REQUESTS:
            turned = threading.Event()
            try:
                loop.call_soon_threadsafe(turned.set)
            except RuntimeError:
                return True  # the loop is closed
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not turned.wait(remaining):
                return True
            before = len(self._pending)
            if not self._receive(block=False):
                return False
            if len(self._pending) == before:
                return True  # that turn handed nothing over: the loop has no more now

        return True

    def _apply_batch(self, batch: Sequence[Job]) -> None:
        """Set each job's outcome (see the class's docstring); the backend's."""
        raise NotImplementedError

    def _started(self) -> None:
        """Called on the writer's thread before its first batch."""

    def _between_batches(self) -> Optional[float]:
        """The backend's own work on the writer's thread, called before each batch is
        taken (SQLite: merging the SDKs' hash log). Returns how long the writer may wait
        for a request before calling it again; None: until one comes."""
        return None

    def _stopping(self) -> None:
        """Called on the writer's thread once closed, after the last batch."""

    def _run(self) -> None:
        try:
            self._started()
        except Exception:
            log.exception("the writer could not set itself up")
        while True:
            try:
                wait = self._between_batches()
            except Exception:  # a bug there must not stop the writes
                log.exception("bug in the writer's work between batches")
                wait = None
            batch = self._take_batch(wait)
            if batch is None:
                break  # closed and drained
            if not batch:
                continue  # nothing came within `wait`: the work between batches is due
            metrics.observe_commit_batch(len(batch), sum(job.members for job in batch))
            try:
                self._apply_batch(batch)
            except BaseException as error:  # a bug of _apply_batch: answer everyone
                log.exception("bug in the writer")
                for job in batch:
                    if job.outcome is None:
                        job.outcome = error
            self.answer([job for job in batch if job.outcome is not LATER])
            self.last_batch_done = time.monotonic()
        try:
            self._stopping()
        except Exception:
            log.exception("bug in the writer's last work")

    @staticmethod
    def answer(batch: Sequence[Job]) -> None:
        """Set each job's future: one call_soon_threadsafe per event loop, not per job.

        From any thread: the writer's, or one that applied a job handed on (LATER).
        """
        by_loop: dict[asyncio.AbstractEventLoop, list[Job]] = {}
        for job in batch:
            if job.loop is None:
                job.future.set(job.outcome)
            else:
                by_loop.setdefault(job.loop, []).append(job)
        for loop, jobs in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, jobs)
            except RuntimeError:
                pass  # the loop is closed: nobody waits any more

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        self._closed = True
        self._inbox.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=60)


def _resolve(jobs: Sequence[Job]) -> None:
    for job in jobs:
        if job.future.done():  # cancelled: the client went away
            continue
        if isinstance(job.outcome, BaseException):
            job.future.set_exception(job.outcome)
        else:
            job.future.set_result(job.outcome)
