"""Latency of the playground's endpoint: one POST /api/try per pause in typing.

    ./dev run python -m bench.playground [ROUNDS]

A real server on loopback (in this process, on a thread) and one keep-alive client, as
the page uses it. Every request carries a manifest that differs from the one before
(a space more at its end: a new sha256 in the module's header, as each keystroke
gives), so the module's text is new every time and format_source's cache of whole
texts never hits. Its shape (format.py: the text with comments and strings blanked)
stays the same, so black's work on it is remembered, as it is while a partner edits a
pointer or a name; a keystroke that changes the shape (a new property) pays black
once. For each shipped manifest with its first example body the modes run
interleaved, round after round:

- as emitted: what the page shows by default (no black);
- black: the module formatted with black, the runtime's formatting remembered.

Prints medians of the round trip in milliseconds, black / as emitted, and the time
the trial itself took inside the server. Not a test: nothing fails.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.playground.server import start  # noqa: E402

MANIFESTS = ROOT / "manifests"


def cases() -> list[tuple[str, str, str]]:
    found = []
    for folder in sorted(MANIFESTS.iterdir()):
        examples = sorted((folder / "examples").glob("*.json"))
        if (folder / "manifest.json").is_file() and examples:
            manifest = (folder / "manifest.json").read_text(encoding="utf-8")
            found.append((folder.name, manifest, examples[0].read_text()))
    return found


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    server = start("127.0.0.1", 0, MANIFESTS)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
    edit = iter(range(10**9))
    inside = {False: [], True: []}  # the answer's own "milliseconds": the trial alone

    def post(key: str, manifest: str, body: str, black: bool) -> float:
        manifest += " " * next(edit)  # a keystroke: a manifest not seen before
        raw = json.dumps({"key": key, "manifest": manifest, "body": body,
                          "black": black}).encode()  # fmt: skip
        started = time.perf_counter()
        client.request("POST", "/api/try", raw, {"Content-Type": "application/json"})
        response = client.getresponse()
        document = json.loads(response.read())
        seconds = time.perf_counter() - started
        assert response.status == 200 and document["ok"], document
        inside[black].append(document["milliseconds"])
        return seconds * 1000

    first = {}
    for key, manifest, body in cases():  # the first request of each: cold caches
        first[key] = post(key, manifest, body, True)
    times = {(key, black): [] for key, _, _ in cases() for black in (False, True)}
    for _ in range(rounds):
        for key, manifest, body in cases():
            for black in (False, True):
                times[key, black].append(post(key, manifest, body, black))
    server.shutdown()
    server.server_close()

    print(f"POST /api/try, median of {rounds} interleaved rounds, milliseconds")
    print()
    print("| integration | as emitted | black | black / as emitted | first (black) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    emitted_all, black_all = [], []
    for key, _, _ in cases():
        emitted = statistics.median(times[key, False])
        black = statistics.median(times[key, True])
        emitted_all += times[key, False]
        black_all += times[key, True]
        print(f"| {key} | {emitted:.1f} | {black:.1f} | {black / emitted:.1f}x "
              f"| {first[key]:.0f} |")  # fmt: skip
    emitted = statistics.median(emitted_all)
    black = statistics.median(black_all)
    print(f"| all | {emitted:.1f} | {black:.1f} | {black / emitted:.1f}x | |")
    print()
    print("inside the server (the trial alone, from the answer's milliseconds): "
          f"median {statistics.median(inside[False]):.1f} ms as emitted, "
          f"{statistics.median(inside[True]):.1f} ms with black")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
