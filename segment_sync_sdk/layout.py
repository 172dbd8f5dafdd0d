"""The formats LaunchDarkly's server-side SDKs read for Big Segments, checked against their source.

- The context hash: python-server-sdk `ldclient/impl/big_segments_common.py`
  `_hash_for_user_key` is `base64.b64encode(sha256(key.encode('utf-8')).digest())`
  (standard, padded base64); js-core `packages/shared/sdk-server/src/BigSegmentsManager.ts`
  `_hashForUserKey` is `createHash('sha256').update(key).digest('base64')`, the same.
- The segment reference a membership maps to true: python-server-sdk
  `ldclient/impl/evaluator_common.py` `_make_big_segment_ref` is `"%s.g%d" % (key,
  generation)`; js-core `src/evaluation/makeBigSegmentRef.ts` is `${key}.g${generation}`.
- A segment's definition: python-server-sdk `ldclient/impl/model/segment.py` (`Segment`
  reads key, version, deleted, included, excluded, includedContexts, excludedContexts,
  rules, salt, unbounded, unboundedContextKind, generation) and js-core
  `src/evaluation/data/Segment.ts` (the same fields). The evaluators query Big Segment
  membership only when `unbounded` is true, and only with a `generation`
  (python-server-sdk `ldclient/impl/evaluator.py` `_big_segment_match_context`: without
  one the status is NOT_CONFIGURED); `unboundedContextKind` names the kind whose key is
  hashed (default "user").

Standard library only: the service, the Redis and SQLite stores and the SDK-side store
all use these, and an application copies this file as it is.
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from hashlib import sha256
from typing import Any


def context_digest(context_key: str) -> bytes:
    """The 32-byte sha256 of a context key, as the SDKs hash it (UTF-8)."""
    return sha256(context_key.encode("utf-8")).digest()


def context_hash(context_key: str) -> str:
    """What an SDK sends a Big Segment store for a context key: base64 of its sha256."""
    return b64encode(context_digest(context_key)).decode("ascii")


def digest_of_hash(hashed: str) -> bytes:
    """The 32 bytes of a context hash as an SDK sends it (ValueError when it is not one)."""
    digest = b64decode(hashed.encode("ascii"), validate=True)
    if len(digest) != 32:
        raise ValueError(f"{hashed!r} is not the base64 of a sha256")
    return digest


def segment_ref(segment_key: str, generation: int) -> str:
    """The reference a Big Segment membership maps to True: "{key}.g{generation}"."""
    return f"{segment_key}.g{generation}"


def segment_definition(
    segment_key: str, context_kind: str, generation: int
) -> dict[str, Any]:
    """A synced segment as an SDK's data store holds it (file data source, TestData, Redis).

    Its members live in the Big Segment store, so the definition lists none: `unbounded`
    sends the SDK there, for contexts of `unboundedContextKind`, under `generation`.
    `version` is the generation: a definition changes exactly when its generation does
    (never, for a segment this service keeps). `salt` only matters for weighted rules,
    and there are none.
    """
    definition: dict[str, Any] = {
        "key": segment_key,
        "included": [],
        "excluded": [],
        "includedContexts": [],
        "excludedContexts": [],
        "rules": [],
        "salt": segment_key,
        "unbounded": True,
        "unboundedContextKind": context_kind,
        "deleted": False,
        # last, in this order: the Redis script completes the JSON from here (see
        # definition_json_head)
        "generation": generation,
        "version": generation,
    }
    return definition


GENERATION_FIELD = '"generation": '


def definition_json(segment_key: str, context_kind: str, generation: int) -> str:
    """The definition as JSON text, as the SDKs' Redis data stores hold it."""
    return json.dumps(segment_definition(segment_key, context_kind, generation))


def definition_json_head(segment_key: str, context_kind: str) -> str:
    """The JSON text of a definition up to its generation, for a script that knows it.

    definition_json(k, kind, g) == head + f'{g}, "version": {g}}}'.
    """
    text = definition_json(segment_key, context_kind, 0)
    head = text[: text.rindex(GENERATION_FIELD) + len(GENERATION_FIELD)]
    assert text == head + '0, "version": 0}'
    return head
