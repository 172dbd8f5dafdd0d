"""No hostile body costs handle() more than a small multiple of json.loads of it.

Astral characters where JavaScript counts code units (a matcher's action), a top-level
string sent to an integration whose template reads `requestBody.…`, long ids, keys and
names, deep but legal nesting, many tiny members, big integers, escapes: each body is
timed against json.loads of its own bytes, interleaved, round by round in this test,
with orjson (when installed) and with json alone, in CPU time (other work on the
machine is not counted). The ratio of the fastest rounds is what is asserted, never a
time; bodies of about 1 MiB keep it quick, and a per-character cost (the 1.9 s of a
15 MiB emoji action) shows at any size. The bodies come from bench/hostile.py, which
`./dev bench` runs at 15 MiB, with the worst bodies found beyond the bound.
"""

from __future__ import annotations

import pytest

from bench.hostile import BODIES, ratio

# The target is 3x; ./dev bench prints the figures (up to about 3.5x for bodies that
# are decoded twice by design: nesting json refuses at the caller's depth, integers
# orjson makes floats). A loaded machine moves a ratio by a good part of that, so the
# test allows 5x: a per-character Python callback or a quadratic step still fails it
# by far (the emoji action was 88x json.loads, the top-level string 100x and more).
# Under the whole suite on every core a bounded body (big integers, 2.7x alone) was
# seen at 4.1x once, and at 4.53x in the best of three attempts while another
# checkout's suite ran beside it: a ratio over the bound is measured again, up to
# ATTEMPTS times, and the best attempt is asserted; a real per-character cost fails
# every attempt.
BOUND = 5.0
SIZE = 1 << 20
ROUNDS = 9
ATTEMPTS = 3


@pytest.mark.parametrize("decoder", ["orjson if installed", "json only"])
@pytest.mark.parametrize("case", sorted(BODIES))
def test_hostile_bodies_cost_a_small_multiple_of_json_loads(
    shipped, monkeypatch, case, decoder, record_property
):
    key, make = BODIES[case]
    body = make(SIZE)
    status = shipped.handle(key, body)[0]
    assert status in (200, 204, 400)  # answered, and not by an error of ours
    if decoder == "json only":
        monkeypatch.setattr(shipped._runtime, "_orjson", None)
    measured = ratio(shipped, key, body, ROUNDS)
    for _ in range(ATTEMPTS - 1):
        if measured <= BOUND:
            break
        measured = min(measured, ratio(shipped, key, body, ROUNDS))
    record_property("ratio", round(measured, 2))
    assert measured <= BOUND, f"{case}: {measured:.2f}x json.loads"
