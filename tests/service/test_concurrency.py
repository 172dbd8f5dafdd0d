"""Many concurrent syncs of one segment end in the state of one serial order of them."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import httpx

from .helpers import all_members, cli, create_token, rudderstack, segments_path

CLIENT_ID = "concurrency-env"
ENV = {"project": "concurrency", "environment": "test"}
REQUESTS = 48
SHARED = [f"shared-{i:03d}" for i in range(120)]


def build_requests() -> list[tuple[list[str], list[str]]]:
    """(added, removed) per request.

    Request i adds its own members (disjoint from every other request), adds its marker
    and removes every other marker, and adds its own random half of SHARED while removing
    the rest (overlapping with every other request). Whatever the order, the request
    applied last decides every marker and every shared member, so a serial execution
    ends with exactly one marker, and SHARED as that request left it.
    """
    rng = random.Random(7)
    requests = []
    for i in range(REQUESTS):
        mine = {key for key in SHARED if rng.random() < 0.5}
        added = [f"own-{i}-{j}" for j in range(5)] + [f"marker-{i}"] + sorted(mine)
        removed = [f"marker-{j}" for j in range(REQUESTS) if j != i]
        removed += [key for key in SHARED if key not in mine]
        requests.append((added, removed))
    return requests


def serial_result(initial: set[str], requests, order: list[int]) -> set[str]:
    members = set(initial)
    for i in order:
        added, removed = requests[i]
        members |= set(added)
        members -= set(removed)
    return members


def test_concurrent_syncs_serialize(service):
    assert (
        cli(service.db, "environment", "add", CLIENT_ID, *ENV.values()).returncode == 0
    )
    token = create_token(service.db, "--role", "writer")
    requests = build_requests()
    initial = {"base-1", "base-2", *SHARED[:10]}
    limits = httpx.Limits(max_connections=16)
    with service.client(token, limits=limits) as client:
        first = rudderstack(CLIENT_ID, "busy", added=sorted(initial))
        assert (
            client.post("/api/v2/segment-targets/rudderstack", json=first).status_code
            == 204
        )

        def send(i: int) -> int:
            added, removed = requests[i]
            body = rudderstack(CLIENT_ID, "busy", added, removed)
            return client.post(
                "/api/v2/segment-targets/rudderstack", json=body
            ).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(send, range(REQUESTS)))
        assert statuses == [204] * REQUESTS

        final = set(all_members(client, "rudderstack-busy", **ENV))
        count = client.get(segments_path(**ENV) + "/rudderstack-busy").json()[
            "memberCount"
        ]

    markers = sorted(key for key in final if key.startswith("marker-"))
    assert len(markers) == 1, f"not one serial order: markers {markers}"
    last = int(markers[0].removeprefix("marker-"))
    order = [i for i in range(REQUESTS) if i != last] + [last]
    assert final == serial_result(initial, requests, order)
    assert count == len(final)  # the maintained count matches the rows
