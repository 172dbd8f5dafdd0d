"""Pipelined syncs: the scripts of every request waiting go to Redis in one round trip.

Each request is still its own script call (EVALSHA), so each stays atomic and idempotent
on its own, exactly as when sent alone: Redis runs the scripts of a pipeline one after
the other, and a refusal (409, 403) of one leaves the others untouched. Only the round
trips and system calls are shared.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis
from redis.typing import EncodableT

from ..store import StoreUnavailable
from ..writer import BatchingWriter, Job
from .client import unavailable_on_failure
from .store import RedisSegmentStore, results_of

log = logging.getLogger("service.writer")


class PipelineWriter(BatchingWriter):
    """The Redis store's writer: the waiting requests' scripts in one pipeline."""

    def __init__(self, store: RedisSegmentStore) -> None:
        self.store = store
        super().__init__(self._apply_batch, name="redis-writer")

    def _apply_batch(self, batch: Sequence[Job]) -> None:
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
            except Exception as refusal:  # 409, 403: raised for this request only
                job.outcome = refusal

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
