"""No hostile body costs handle() more than a small multiple of json.loads of it.

Astral characters where JavaScript counts code units (a matcher's action), a top-level
string sent to an integration whose template reads `requestBody.…`, long ids, keys and
names, deep but legal nesting, many tiny members, big integers, escapes: each body is
timed against json.loads of its own bytes, interleaved,
round by round in this test, with orjson (when installed) and with json alone, in CPU
time (other work on the machine is not counted). The ratio of the fastest rounds is
what is asserted, never a time; bodies of about 1 MiB keep it quick, and a
per-character cost (the 1.9 s of a 15 MiB emoji action) shows at any size.
`bench/run.py` gives the same figures for 15 MiB bodies.
"""

from __future__ import annotations

import json
import sys
import time

import pytest

# The target is 3x; bench/run.py prints the figures (up to about 3.5x for bodies that
# are decoded twice by design: nesting json refuses at the caller's depth, integers
# orjson makes floats). A loaded machine moves a ratio by a good part of that, so the
# test allows 4x: a per-character Python callback or a quadratic step still fails it
# by far (the emoji action was 88x json.loads, the top-level string 100x and more).
BOUND = 4.0
SIZE = 1 << 20
ROUNDS = 9
EMOJI = "\U0001f600"


def dump(doc: object, ascii_only: bool = False) -> bytes:
    return json.dumps(doc, ensure_ascii=ascii_only, separators=(",", ":")).encode()


def hightouch(members: list, action: str = "add", **extra: object) -> bytes:
    doc = {"environmentId": "e", "cohortId": "c", "cohortName": "n", "action": action}
    return dump(dict(doc, members=members, **extra))


def amplitude(batch: list) -> bytes:
    first = dict({"cohortId": "c", "cohortName": "n"}, **batch[0])
    return dump({"environmentId": "e", "batch": [first, *batch[1:]]})


def nested(depth: int, members: int) -> bytes:
    """A valid hightouch body with an extra field nested depth arrays deep."""
    body = hightouch([{"integration_distinct_id": f"u{i}"} for i in range(members)])
    return body[:-1] + b',"extra":' + b"[" * depth + b"]" * depth + b"}"


n = SIZE // 32  # members of about 32 bytes
BODIES = {
    "15 MiB emoji action, here 1 MiB": (
        "hightouch",
        lambda: hightouch([{"integration_distinct_id": "u"}], action=EMOJI * (SIZE // 4)),
    ),
    "emoji action, escaped": (
        "hightouch",
        lambda: dump(
            {"environmentId": "e", "cohortId": "c", "cohortName": "n",
             "action": EMOJI * (SIZE // 12), "members": []},
            ascii_only=True,
        ),
    ),
    "top-level string to a template reading requestBody": (
        "example-single-property",
        lambda: dump("x" * SIZE),
    ),
    "top-level emoji string to a template reading requestBody": (
        "example-single-property",
        lambda: dump(EMOJI * (SIZE // 4)),
    ),
    "one long member id": (
        "hightouch",
        lambda: hightouch([{"integration_distinct_id": "x" * SIZE}]),
    ),
    "many long member ids": (
        "hightouch",
        lambda: hightouch(
            [{"integration_distinct_id": f"{i}" + "x" * 1000} for i in range(SIZE // 1040)]
        ),
    ),
    "astral characters in member ids": (
        "amplitude",
        lambda: amplitude(
            [{"userId": EMOJI * 30 + str(i), "value": True} for i in range(SIZE // 140)]
        ),
    ),
    "astral characters in the cohort name": (
        "amplitude",
        lambda: amplitude([{"userId": "u", "cohortName": EMOJI * (SIZE // 4), "value": True}]),
    ),
    "nesting 900 deep, which json decodes": ("hightouch", lambda: nested(900, n // 4)),
    "nesting 1,000 deep, which json decodes with more room": (
        "hightouch",
        lambda: nested(1000, n // 4),
    ),
    "many tiny members, most ids seen before": (
        "hightouch",
        lambda: hightouch([{"integration_distinct_id": str(i % 7)} for i in range(n)]),
    ),
    "many tiny members with integer ids": (
        "hightouch",
        lambda: hightouch([{"integration_distinct_id": i} for i in range(n)]),
    ),
    "many tiny members, the last one broken": (
        "hightouch",
        lambda: hightouch([{"integration_distinct_id": "a"}] * n + [{}]),
    ),
    "many tiny members in both named arrays": (
        "rudderstack",
        lambda: dump(
            {"environmentId": "e", "cohortId": "c", "cohortName": "n",
             "listData": {"add": [{"id": str(i)} for i in range(n // 2)],
                          "remove": [{"id": str(i)} for i in range(0, n // 2, 2)]}}
        ),
    ),
    "many tiny boolean members": (
        "amplitude",
        lambda: amplitude([{"userId": str(i), "value": i % 2 == 0} for i in range(n)]),
    ),
    "one long key": (
        "hightouch",
        lambda: hightouch([{"integration_distinct_id": "u"}], **{"k" * SIZE: 1}),
    ),
    "many duplicate keys": (
        "hightouch",
        lambda: b"{" + b'"environmentId":"e",' * (SIZE // 20) + hightouch([])[1:],
    ),
    "integers beyond 64 bits as member ids": (
        "hightouch",
        lambda: hightouch(
            [{"integration_distinct_id": 10**20 + i} for i in range(SIZE // 50)]
        ),
    ),
    "integers beyond 64 bits as cohort overrides": (
        "amplitude",
        lambda: amplitude(
            [{"userId": str(i), "cohortId": 10**20, "value": True} for i in range(n)]
        ),
    ),
    "surrogate-pair escapes in member ids": (
        "hightouch",
        lambda: dump(
            {"environmentId": "e", "cohortId": "c", "cohortName": "n", "action": "add",
             "members": [{"integration_distinct_id": EMOJI * 40 + str(i)}
                         for i in range(SIZE // 500)]},
            ascii_only=True,
        ),
    ),
}  # fmt: skip


def json_loads_with_room(body: bytes) -> object:
    """json.loads with the recursion room the runtime gives a body json found deep."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + 1200)
    try:
        return json.loads(body)
    finally:
        sys.setrecursionlimit(limit)


def cpu_seconds(function, body: bytes) -> float:
    """CPU time of one call: what other work on the machine takes is not counted."""
    start = time.process_time()
    function(body)
    return time.process_time() - start


def ratio(package, key: str, body: bytes) -> float:
    """handle() / json.loads of the same body, fastest round of each, interleaved."""
    loads = json_loads_with_room if b"[" * 950 in body else json.loads
    ours, theirs = [], []
    for _ in range(ROUNDS):
        theirs.append(cpu_seconds(loads, body))
        ours.append(cpu_seconds(lambda b: package.handle(key, b), body))
    return min(ours) / min(theirs)


@pytest.mark.parametrize("decoder", ["orjson if installed", "json only"])
@pytest.mark.parametrize("case", sorted(BODIES))
def test_hostile_bodies_cost_at_most_three_json_loads(
    shipped, monkeypatch, case, decoder, record_property
):
    key, make = BODIES[case]
    body = make()
    status = shipped.handle(key, body)[0]
    assert status in (200, 204, 400)  # answered, and not by an error of ours
    if decoder == "json only":
        monkeypatch.setattr(shipped._runtime, "_orjson", None)
    measured = ratio(shipped, key, body)
    record_property("ratio", round(measured, 2))
    assert measured <= BOUND, f"{case}: {measured:.2f}x json.loads"
