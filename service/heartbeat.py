"""Marking a store "synchronized on" every few seconds, as LaunchDarkly's Relay Proxy does.

The SDKs' Big Segment stores report the data stale when that time is older than their
`stale_after` (120 s by default): a store whose service stopped is stale a little later,
one that a running service keeps is not, however long since the last partner sync.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Optional

from .store import StoreUnavailable

log = logging.getLogger("service.store")
SYNCHRONIZED_EVERY = 5.0  # seconds, as often as the SDKs poll the store's status


class Heartbeat:
    """Calls mark() every `every` seconds on a thread of its own, until stop()."""

    def __init__(self, mark: Callable[[], None], every: float = SYNCHRONIZED_EVERY):
        self._mark = mark
        self._every = every
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._beat, name="synchronized-on", daemon=True
        )
        self._thread.start()

    def _beat(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self._mark()
                if failing:
                    log.info("the store answers again: the SDKs see it current")
                failing = False
            except StoreUnavailable as error:
                if not failing:  # one line per outage, not one per beat
                    log.warning("cannot mark the store synchronized: %s", error)
                failing = True
            self._stop.wait(self._every)

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
