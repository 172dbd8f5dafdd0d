"""X-Request-Id: every answer carries one, the caller's when it is sane, else a new one.

A proxy or partner that sends its own id finds it again in our answer and our log; a
caller that sends none, or one that is too long or holds characters a header or a log
should not (spaces, controls, quotes), gets a fresh random id instead. The request log
(access_log.py) puts it in scope["state"], REQUEST_ID and the answer.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterable

HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._~:+/=-]{1,128}")

# Fresh ids come from a generator of our own, seeded once from os.urandom: uuid4() reads
# os.urandom on every call, a system call of about 1.7 us here against 0.3 us for this.
# An id only has to be unique, not unguessable. Our own instance, because tests (and
# hypothesis) seed the module's generator; reseeded in a forked child, or two workers
# would make the same ids.
_IDS = random.Random()
if hasattr(os, "register_at_fork"):  # not on Windows, where nothing forks
    os.register_at_fork(after_in_child=_IDS.seed)


def new_request_id() -> str:
    """32 lowercase hex digits (128 random bits), as uuid4().hex was."""
    return f"{_IDS.getrandbits(128):032x}"


def request_id_of(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The request's own X-Request-Id when it is sane, else a new random one."""
    for name, value in headers:
        if name == HEADER:
            if _SANE.fullmatch(value):
                return value.decode("ascii")
            break
    return new_request_id()
