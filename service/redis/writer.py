"""Pipelined syncs: the scripts of every request waiting go to Redis in one round trip.

Each request is still its own script call (EVALSHA), so each stays atomic and idempotent
on its own, exactly as when sent alone: Redis runs the scripts of a pipeline one after
the other, and a refusal (409, 403) of one leaves the others untouched. Only the round
trips and system calls are shared.

Two kinds of request do not fit a pipeline (steps.py):

- A request of more than the store's step_members members is applied in bounded steps,
  hundreds of round trips that would hold every small request behind it. The writer
  hands it to a thread of STEP_THREADS (`RedisSegmentStore.apply`: steps, waiting for
  another request's lease first if need be) and goes on with the small ones.
- A small request whose segment is leased by a large request in progress is refused by
  its script ('busy') with nothing written. The writer tries it again, in a later
  pipeline, every LEASE_POLL seconds for up to steps.LEASE_WAIT; only then is it a 503.
  So it lands after the large request, as if the two had come one after the other.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from redis.typing import EncodableT

from ..store import StoreUnavailable
from ..writer import LATER, BatchingWriter, Job
from . import steps
from .client import unavailable_on_failure
from .steps import SegmentBusy
from .store import RedisSegmentStore, results_of

log = logging.getLogger("service.writer")

# Large requests applied at once, each on its thread; more wait for a free one. Each
# step is one short script, so a few of them interleave in Redis without holding it.
STEP_THREADS = 4
LEASE_POLL = 0.05  # seconds between two tries of a request waiting for a lease


class PipelineWriter(BatchingWriter):
    """The Redis store's writer: the waiting requests' scripts in one pipeline."""

    def __init__(self, store: RedisSegmentStore) -> None:
        self.store = store
        self._steps = ThreadPoolExecutor(STEP_THREADS, thread_name_prefix="redis-steps")
        # requests waiting for a lease, between two tries (see _wait_for_lease)
        self._parking = threading.Condition()
        self._parked = 0
        self._closing = False
        super().__init__(name="redis-writer")

    def _apply_batch(self, batch: Sequence[Job]) -> None:
        small = []
        for job in batch:
            if job.members > self.store.step_members:
                job.outcome = LATER
                self._steps.submit(self._apply_in_steps, job)
            else:
                small.append(job)
        if small:
            self._apply_pipelined(small)

    def _apply_in_steps(self, job: Job) -> None:
        """A large request, on a thread of its own; answered when it is done."""
        try:
            job.outcome = self.store.apply(
                job.environment, job.sync, may_create=job.may_create
            )
        except Exception as error:  # a refusal, a 503, or a bug: the caller's answer
            job.outcome = error
        self.answer([job])

    def _apply_pipelined(self, batch: Sequence[Job]) -> None:
        script = self.store.apply_script
        calls = [
            self.store.apply_args(job.environment, job.sync, may_create=job.may_create)
            for job in batch
        ]
        try:
            with unavailable_on_failure("a sync"):
                replies = self._send(script, calls)
        except StoreUnavailable as error:
            log.warning("%s", error)
            for job in batch:
                job.outcome = StoreUnavailable(str(error))
            return
        for job, reply in zip(batch, replies):
            if isinstance(reply, Exception):
                job.outcome = _failure(reply)
                continue
            try:
                job.outcome = results_of(reply, job.sync)
            except SegmentBusy as busy:
                job.outcome = self._wait_for_lease(job, busy)
            except Exception as refusal:  # 409, 403: raised for this request only
                job.outcome = refusal
        waiting = [job for job in batch if job.outcome is LATER]
        if waiting:  # back in the queue in a moment, together
            timer = threading.Timer(LEASE_POLL, self._unpark, (waiting,))
            timer.daemon = True
            timer.start()

    def _wait_for_lease(self, job: Job, busy: SegmentBusy) -> Any:
        """LATER: the job is tried again after LEASE_POLL; or busy, its 503, once it has
        waited steps.LEASE_WAIT (at once while the writer closes)."""
        now = time.monotonic()
        if job.retry_until is None:
            job.retry_until = now + steps.LEASE_WAIT
        with self._parking:
            if self._closing or now >= job.retry_until:
                return busy
            self._parked += 1
        return LATER

    def _unpark(self, jobs: list[Job]) -> None:
        with self._parking:
            for job in jobs:
                job.outcome = None
                self._put(job)  # not closed: close() waits for the parked first
            self._parked -= len(jobs)
            self._parking.notify_all()

    def close(self) -> None:
        """Finish what is queued (a request waiting for a lease gets one more try), the
        large requests in progress included, then stop the threads."""
        with self._parking:
            self._closing = True
            self._parking.wait_for(lambda: self._parked == 0, timeout=10)
        super().close()
        self._steps.shutdown(wait=True)

    def _send(
        self, script: redis.commands.core.Script, calls: list[list[EncodableT]]
    ) -> list[Any]:
        """One EVALSHA per request in one pipeline; the script loaded again if Redis lost it."""
        if len(calls) == 1:  # no pipeline to build for a request alone
            try:
                return [script(args=calls[0])]
            except redis.ResponseError as error:
                return [error]
        pipe = self.store.apply_client.pipeline(transaction=False)
        for args in calls:
            pipe.evalsha(script.sha, 0, *args)
        replies = pipe.execute(raise_on_error=False)
        if any(isinstance(reply, redis.exceptions.NoScriptError) for reply in replies):
            script.sha = self.store.apply_client.script_load(script.script)
            return self._send(script, calls)  # nothing ran: NOSCRIPT runs nothing
        return replies


def _failure(reply: Exception) -> Exception:
    """A script's error reply as what the caller gets: 503 when Redis cannot serve."""
    try:
        with unavailable_on_failure("a sync"):
            raise reply
    except Exception as error:
        return error
