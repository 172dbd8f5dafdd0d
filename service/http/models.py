"""The shapes of the HTTP API as pydantic models: what /openapi.json documents.

The ingest route has no model of its own (its body is each partner's, parsed by the
generated runtime); its documentation is in openapi.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

from ..store import Segment, iso_time


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ErrorBody(ApiModel):
    code: str = Field(description="short machine-readable code, e.g. unknown_segment")
    message: str = Field(description="what is wrong, as a sentence")


class SegmentOut(ApiModel):
    key: str
    name: str
    description: str
    tags: list[str]
    context_kind: str
    integration_key: str = Field(description="the integration that syncs this segment")
    cohort_id: str
    cohort_url: Optional[str]
    member_count: int
    created_at: str = Field(description="ISO 8601, UTC")
    updated_at: str = Field(
        description="ISO 8601, UTC: last change of members or details"
    )
    generation: int = Field(
        description="what an SDK's definition of this segment must carry to find its "
        'members in a Big Segment store ("{key}.g{generation}"); never changes'
    )
    unbounded: bool = Field(
        description="always true: members live in the Big Segment store, not in the "
        "definition"
    )
    unbounded_context_kind: str = Field(
        description="the context kind whose key an SDK looks up (the contextKind)"
    )


class SegmentPage(ApiModel):
    items: list[SegmentOut]
    next_cursor: Optional[str] = Field(
        description="pass as ?cursor= for the next page; null on the last page"
    )


class MemberPage(ApiModel):
    items: list[str] = Field(description="context keys, in ascending order")
    next_cursor: Optional[str] = Field(
        description="pass as ?cursor= for the next page; null on the last page"
    )


class Inclusion(ApiModel):
    segment_key: str
    context_key: str
    included: bool


Tag = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=64),
]


def _without_null(schema: dict[str, Any]) -> None:
    """Each property as its type alone: absent keeps a value, null is refused."""
    for name, prop in schema.get("properties", {}).items():
        types = [
            choice for choice in prop.pop("anyOf", []) if choice != {"type": "null"}
        ]
        prop.pop("default", None)
        if types:
            schema["properties"][name] = {**types[0], **prop}


class SegmentDetails(BaseModel):
    """PATCH body: the fields to change (none: nothing changes); syncs never overwrite them."""

    # null is refused (not_null), so the document shows no null either
    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_null)

    name: Optional[str] = Field(None, min_length=1, max_length=256)
    description: Optional[str] = Field(None, max_length=4096)
    tags: Optional[list[Tag]] = Field(
        None,
        max_length=100,
        description="replaces the tags; a repeated tag counts once",
    )

    @field_validator("name", "description", "tags", mode="before")
    @classmethod
    def not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must not be null; leave the property out to keep it")
        return value


class SdkSegment(BaseModel):
    """A segment definition exactly as LaunchDarkly's server-side SDKs read it."""

    model_config = ConfigDict(extra="forbid")

    # the SDKs' own field names (camelCase in Python too: no aliases to get wrong)
    key: str
    included: list[str]
    excluded: list[str]
    includedContexts: list[dict[str, Any]]
    excludedContexts: list[dict[str, Any]]
    rules: list[dict[str, Any]]
    salt: str
    unbounded: bool
    unboundedContextKind: str
    deleted: bool
    generation: int
    version: int


class SdkSegments(BaseModel):
    segments: dict[str, SdkSegment] = Field(
        description='definitions by segment key: a file data source\'s "segments", to '
        'merge with its "flags"'
    )


def segment_out(segment: Segment) -> SegmentOut:
    return SegmentOut(
        key=segment.key,
        name=segment.name,
        description=segment.description,
        tags=list(segment.tags),
        context_kind=segment.context_kind,
        integration_key=segment.integration_key,
        cohort_id=segment.cohort_id,
        cohort_url=segment.cohort_url,
        member_count=segment.member_count,
        created_at=iso_time(segment.created_at),
        updated_at=iso_time(segment.updated_at),
        generation=segment.generation,
        unbounded=True,
        unbounded_context_kind=segment.context_kind,
    )
