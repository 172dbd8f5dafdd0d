"""A sample body per shipped integration, each one a sync that succeeds (the printed curl lines).

The shapes follow ../shared/PARTNERS.md and seeds/002; ENVIRONMENT_ID marks where the
client-side id goes.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

ENVIRONMENT_ID = "<client-side id>"

SAMPLE_BODIES: dict[str, dict[str, Any]] = {
    "amplitude": {
        "environmentId": ENVIRONMENT_ID,
        "batch": [
            {"userId": "user-1", "cohortId": "power-users", "cohortName": "Power users",
             "cohortUrl": "https://app.amplitude.com/cohort/power-users", "value": True},
            {"userId": "user-2", "cohortId": "power-users", "cohortName": "Power users",
             "cohortUrl": "https://app.amplitude.com/cohort/power-users", "value": True},
        ],
    },
    "census-synced-segments": {
        "environment_id": ENVIRONMENT_ID,
        "context_kind": "account",
        "batch": [
            {"user_id": 1001, "cohort_id": 77, "cohort_name": "Churn risk", "value": True},
        ],
    },
    "example-boolean-property": {
        "environmentId": ENVIRONMENT_ID,
        "contextKind": "organization",
        "batch": [
            {"userId": "org-1", "cohortName": "Segment 1234", "cohortId": "segment-1234",
             "cohortUrl": "https://example.com", "value": True},
        ],
    },
    "example-named-arrays": {
        "customer_config": {"fields": [{"value": {"id": ENVIRONMENT_ID}}]},
        "data": {
            "segment": {"id": "segment-1234", "name": "Segment 1234"},
            "add": [{"id": "user-123"}, {"id": "user-456"}],
            "remove": [{"id": "user-789"}],
        },
    },
    "example-single-property": {
        "action": "add_members",
        "parameters": {
            "integration_project_id": ENVIRONMENT_ID,
            "integration_cohort_name": "Segment 1234",
            "integration_cohort_id": "segment-1234",
            "members": [{"integration_distinct_id": "user-1234"}],
        },
    },
    "heap-inbound": {
        "parameters": {"environment_id": ENVIRONMENT_ID},
        "heap": {"data": {"segment": {"id": 5, "name": "Trial users"},
                          "add": [{"id": "user-1"}], "remove": []}},
    },
    "hightouch": {
        "environmentId": ENVIRONMENT_ID, "contextKind": "user", "cohortId": "vip",
        "cohortName": "VIP", "action": "add",
        "members": [{"integration_distinct_id": "user-1"}],
    },
    "rudderstack": {
        "environmentId": ENVIRONMENT_ID, "cohortId": "beta", "cohortName": "Beta testers",
        "listData": {"add": [{"id": "user-1"}], "remove": []},
    },
    "segment-audiences": {
        "environmentId": ENVIRONMENT_ID,
        "batch": [{"userId": "user-1", "cohortId": "audience-1", "cohortName": "Audience",
                   "value": True}],
    },
    "tealium-synced-segments": {
        "action": "add_member",
        "parameters": {"tealium_project_id": ENVIRONMENT_ID, "tealium_cohort_id": "t1",
                       "tealium_cohort_name": "Tealium audience",
                       "members": [{"member_id": "user-1"}]},
    },
    "zeotap": {
        "action": "add_members",
        "parameters": {"integration_project_id": ENVIRONMENT_ID,
                       "integration_cohort_id": "z1", "integration_cohort_name": "Zeotap",
                       "members": [{"integration_distinct_id": "user-1"}]},
    },
}  # fmt: skip


def sample_body(integration_key: str, client_side_id: str) -> dict[str, Any]:
    """The sample body of an integration, sent to the environment client_side_id."""
    return {
        key: _with_environment(value, client_side_id)
        for key, value in SAMPLE_BODIES[integration_key].items()
    }


def _with_environment(value: object, client_side_id: str) -> object:
    if value == ENVIRONMENT_ID:
        return client_side_id
    if isinstance(value, dict):
        return {k: _with_environment(v, client_side_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_environment(item, client_side_id) for item in value]
    return value


def sync_curl(
    base_url: str, integration_key: str, token: str, body: dict[str, Any]
) -> str:
    """A curl command line, quoted for a POSIX shell, that posts body to the integration."""
    return shlex.join(
        [
            "curl", "-sS", "-i", "-X", "POST",
            f"{base_url}/api/v2/segment-targets/{integration_key}",
            "-H", f"Authorization: {token}",
            "-H", "Content-Type: application/json",
            "--data", json.dumps(body, separators=(",", ":")),
        ]
    )  # fmt: skip


def read_curl(base_url: str, path: str, token: str) -> str:
    """A curl command line that GETs a read-API path."""
    authorization = f"Authorization: {token}"
    return shlex.join(
        ["curl", "-sS", "-w", "\\n", "-H", authorization, base_url + path]
    )
