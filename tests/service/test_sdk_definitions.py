"""Segment definitions as LaunchDarkly's SDKs read them: the format, the route, the CLI, Redis.

The format (segment_sync_sdk/layout.py) is checked against the Python SDK itself: its
context hash, and its own parser of segment definitions. The real SDKs evaluating with
these definitions are in test_sdk_end_to_end.py.
"""

from __future__ import annotations

import json
from hashlib import sha256

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ldclient.impl.big_segments_common import _hash_for_user_key
from ldclient.impl.evaluator_common import _make_big_segment_ref
from ldclient.impl.model.segment import Segment as SdkSegment

from segment_sync_sdk.layout import (
    context_hash,
    definition_json,
    definition_json_head,
    digest_of_hash,
    segment_definition,
    segment_ref,
)
from service.redis.client import APPLY_TIMEOUT, connect
from service.redis.store import RedisSegmentStore

from .helpers import amplitude, audience, cli, create_token, segments_path
from .test_store_contract import ENV, OTHER_ENV, change, sync

keys = st.text(st.characters(codec="utf-8"), max_size=40)


@given(keys)
def test_the_context_hash_is_the_sdks(key):
    assert context_hash(key) == _hash_for_user_key(key)
    assert digest_of_hash(context_hash(key)) == sha256(key.encode("utf-8")).digest()


@given(keys, st.sampled_from(["user", "account", "org"]), st.integers(1, 2**40))
def test_a_definition_is_what_the_sdk_parses(key, kind, generation):
    definition = segment_definition(key, kind, generation)
    parsed = SdkSegment(json.loads(json.dumps(definition)))
    assert (parsed.key, parsed.unbounded, parsed.generation) == (key, True, generation)
    assert parsed.unbounded_context_kind == kind
    assert (parsed.included, parsed.excluded, parsed.rules) == (set(), set(), [])
    assert _make_big_segment_ref(parsed) == segment_ref(key, generation)
    # what the Redis script appends to the head is the rest of the same JSON
    head = definition_json_head(key, kind)
    assert head + f'{generation}, "version": {generation}}}' == definition_json(
        key, kind, generation
    )


@pytest.fixture(scope="module")
def writer(service):
    """A writer token, and an environment of this module's own."""
    added = cli(service.db, "environment", "add", "sdk-defs-env", "defs", "test")
    assert added.returncode == 0, added.stderr
    with service.client(create_token(service.db, "--role", "writer")) as client:
        yield client


def test_the_route_and_export_sdk_give_every_definition(service, writer):
    for integration, body in (
        ("amplitude", amplitude("sdk-defs-env", "users", ["u1"])),
        ("segment-audiences", audience("sdk-defs-env", "accounts", "account", ["a1"])),
    ):
        post = writer.post("/api/v2/segment-targets/" + integration, json=body)
        assert post.status_code == 204, post.text
    base = segments_path(project="defs", environment="test")
    details = {s["key"]: s for s in writer.get(base).json()["items"]}
    assert {
        key: (s["unbounded"], s["unboundedContextKind"]) for key, s in details.items()
    } == {
        "amplitude-users": (True, "user"),
        "segment-audiences-accounts": (True, "account"),
    }
    expected = {
        key: segment_definition(key, s["contextKind"], s["generation"])
        for key, s in details.items()
    }
    served = writer.get(base.removesuffix("/segments") + "/sdk-segments")
    assert served.status_code == 200
    assert served.json() == {"segments": expected}
    exported = cli(service.db, "export-sdk", "--environment", "defs/test")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout) == {"segments": expected}


def test_sdk_segments_needs_a_token_and_a_known_environment(service, writer):
    path = segments_path(project="defs", environment="nope").removesuffix("/segments")
    assert writer.get(path + "/sdk-segments").json()["code"] == "unknown_environment"
    with service.client() as anonymous:
        assert anonymous.get(path + "/sdk-segments").status_code == 403


def test_export_sdk_says_what_is_wrong(tmp_path):
    unknown = cli(tmp_path / "s.db", "export-sdk", "--environment", "no/such")
    assert unknown.returncode == 1
    assert 'project "no" has no environment "such"' in unknown.stderr
    malformed = cli(tmp_path / "s.db", "export-sdk", "--environment", "production")
    assert malformed.returncode == 2
    assert "is not PROJECT/ENVIRONMENT" in malformed.stderr
    assert "Traceback" not in unknown.stderr + malformed.stderr


def test_export_sdk_writes_a_file_whole(tmp_path):
    out = tmp_path / "segments.json"
    added = cli(
        tmp_path / "s.db", "environment", "add", "env-1", "default", "production"
    )
    assert added.returncode == 0, added.stderr
    result = cli(tmp_path / "s.db", "export-sdk", "--out", str(out))  # no segments yet
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text()) == {"segments": {}}
    assert "wrote 0 segment definitions" in result.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".export")] == []


def test_sdk_definitions_needs_redis(tmp_path):
    result = cli(
        tmp_path / "s.db",
        "serve",
        "--port",
        "0",
        "--sdk-definitions",
        "default/production",
    )
    assert result.returncode == 1
    assert "--sdk-definitions writes definitions to Redis" in result.stderr


def test_redis_keeps_the_definitions_of_one_environment_where_daemon_sdks_read(
    redis_server, redis_db
):
    url = redis_server.url_of(redis_db)
    store = RedisSegmentStore(connect(url), "defs", connect(url, APPLY_TIMEOUT))
    client = redis_server.client(redis_db)
    try:
        store.apply(ENV, sync(change("before", ["u1"])))
        store.apply(OTHER_ENV, sync(change("elsewhere", ["u1"])))
        assert client.exists("defs:segments", "defs:$inited") == 0
        assert store.write_definitions(ENV) == 1  # what exists already
        store.apply(ENV, sync(change("after", ["u2"])))  # written by the apply script
        store.apply(OTHER_ENV, sync(change("elsewhere-too")))  # another environment
        written = {
            key.decode(): json.loads(value)
            for key, value in client.hgetall("defs:segments").items()
        }
        assert written == {
            key: segment_definition(key, "user", store.get_segment(ENV, key).generation)
            for key in ("amplitude-before", "amplitude-after")
        }
        assert client.exists("defs:$inited") == 1
        client.delete("defs:segments")  # as an SDK initialising the prefix would
        store.apply(ENV, sync(change("before", ["u3"])))
        assert list(client.hgetall("defs:segments")) == [
            b"amplitude-before"
        ]  # repaired
    finally:
        store.close()
        client.close()
