"""Segment definitions as LaunchDarkly's server-side SDKs read them, for one environment.

`GET .../sdk-segments` and `python -m service export-sdk` answer `{"segments": {key:
definition}}`: the shape of a file data source's "segments", so that it merges as is
with a `{"flags": ...}` file (or the SDK takes both files), and each definition can be
given to TestData (`usePreconfiguredSegment` in the Node SDK). The definition itself is
segment_sync_sdk.layout.segment_definition.
"""

from __future__ import annotations

from typing import Any, Optional

from segment_sync_sdk.layout import segment_definition

from .store import Environment, Segment, SegmentStore

PAGE = 1000  # segments read per store call


def sdk_segments(
    store: SegmentStore, environment: Environment
) -> dict[str, dict[str, Any]]:
    """Every segment definition of the environment, by segment key (in key order)."""
    return {
        segment.key: definition_of(segment)
        for segment in all_segments(store, environment)
    }


def definition_of(segment: Segment) -> dict[str, Any]:
    return segment_definition(segment.key, segment.context_kind, segment.generation)


def all_segments(store: SegmentStore, environment: Environment) -> list[Segment]:
    segments: list[Segment] = []
    after: Optional[str] = None
    while True:
        page = store.list_segments(environment, PAGE, after)
        segments += page
        if len(page) < PAGE:
            return segments
        after = page[-1].key
