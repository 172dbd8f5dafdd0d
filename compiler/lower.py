"""Lower: a validated manifest becomes a ParserModule (pointers split, mode decided)."""

from __future__ import annotations

import json
import re
from typing import Any, Optional

from jsonpointer import JsonPointer

from . import ir
from .jsregex import ANY_PAIR, CHARACTERS, CODE_UNITS, subject_form, translate
from .literals import comment_text, python_literal
from .load import Manifest
from .lower_response import lower_template
from .naming import module_name

ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
# Below this many members, setting up the C-level passes costs more than the exact loop.
FAST_PATH_MIN_MEMBERS = 8
# How the generated code tests an action, by the form of subject its matcher needs.
TEST_FUNCTIONS = {CHARACTERS: None, ANY_PAIR: "js_test_any_pair", CODE_UNITS: "js_test"}


def lower(manifest: Manifest) -> ir.ParserModule:
    """The IR of one manifest that passed validation."""
    capability = manifest.document["capabilities"]["syncedSegment"]
    parser = capability["requestParser"]
    members = parser["memberArrayParser"]
    inclusion = parser.get("arrayInclusion")
    mode = decide_mode(parser)
    template = capability.get("jsonResponseBody")

    def optional(
        name: str, source: dict[str, Any], prefix: str = ""
    ) -> Optional[ir.Read]:
        return read(prefix + name, source[name]) if name in source else None

    return ir.ParserModule(
        key=manifest.key,
        key_literal=repr(manifest.key),
        module_name=module_name(manifest.key),
        source=manifest.source,
        sha256=manifest.sha256,
        mode=mode,
        environment_id=read("environmentIdPath", parser["environmentIdPath"]),
        context_kind=optional("contextKindPath", parser),
        cohort_id=read("cohortIdPath", parser["cohortIdPath"]),
        cohort_name=read("cohortNamePath", parser["cohortNamePath"]),
        cohort_url=optional("cohortUrlPath", parser),
        arrays=member_arrays(parser, mode),
        member_id=read("memberArrayParser.memberIdPath", members["memberIdPath"]),
        membership=(
            read(
                "memberArrayParser.booleanMembershipPath",
                members["booleanMembershipPath"],
            )
            if mode == ir.BOOLEAN
            else None
        ),
        action=read("arrayInclusion.path", inclusion["path"]) if inclusion else None,
        matcher=lower_matcher(inclusion["matcher"]) if inclusion else None,
        member_cohort_id=optional("cohortIdPath", members, "memberArrayParser."),
        member_cohort_name=optional("cohortNamePath", members, "memberArrayParser."),
        fast=fast_path(members, mode),
        response=lower_template(template) if isinstance(template, str) else None,
    )


def fast_path(members: dict[str, Any], mode: str) -> Optional[ir.FastPath]:
    """Whole-array reads when every member pointer used on the fast path is one token."""
    pointers = [members["memberIdPath"]]
    if mode == ir.BOOLEAN:
        pointers.append(members["booleanMembershipPath"])
    if "cohortIdPath" in members:
        pointers.append(members["cohortIdPath"])
    tokens = [JsonPointer(pointer).parts for pointer in pointers]
    if any(len(parts) != 1 for parts in tokens):
        return None
    keys = [repr(parts[0]) for parts in tokens]
    name_key = "None"  # a name is read for a cohort that the fast path sorts into
    if "cohortNamePath" in members:
        name = JsonPointer(members["cohortNamePath"]).parts
        if len(name) != 1:
            return None
        name_key = repr(name[0])
    checks = ["objects", "ids non-empty strings or integers"]
    if mode == ir.BOOLEAN:
        checks.append("memberships true or false")
    if "cohortIdPath" in members:
        checks.append("no other cohort named")
    return ir.FastPath(
        member_id_key=keys[0],
        membership_key=keys[1] if mode == ir.BOOLEAN else None,
        cohort_key=keys[-1] if "cohortIdPath" in members else None,
        name_key=name_key,
        min_members=FAST_PATH_MIN_MEMBERS,
        comment=comment_text(
            "C-level checks vouch for the members from the first on, as many as they "
            "can (" + ", ".join(checks) + "), when there are more than "
            f"{FAST_PATH_MIN_MEMBERS}; the exact loop takes the rest, member by member.",
            width=80,
        ),
    )


def decide_mode(parser: dict[str, Any]) -> str:
    if "arrayInclusion" in parser:
        return (
            ir.ACTION
        )  # arrayInclusion decides even when booleanMembershipPath is set
    if "memberArrayPath" in parser:
        return ir.BOOLEAN
    return ir.NAMED


def member_arrays(parser: dict[str, Any], mode: str) -> tuple[ir.MemberArray, ...]:
    if mode == ir.NAMED:
        return (
            member_array("addMemberArrayPath", parser, "added", True, mode),
            member_array("removeMemberArrayPath", parser, "removed", False, mode),
        )
    return (member_array("memberArrayPath", parser, "member", None, mode),)


def member_array(
    name: str,
    parser: dict[str, Any],
    prefix: str,
    included: Optional[bool],
    mode: str,
) -> ir.MemberArray:
    pointer = parser[name]
    ids = f"{prefix}_ids"
    if mode == ir.BOOLEAN:  # member id -> whether it is included
        collected, collected_type, collect = "ops", "bool", "ops[member_id] = included"
    else:  # the ids alone, in order (a dict: duplicates once)
        collected, collected_type, collect = ids, "None", f"{ids}[member_id] = None"
    return ir.MemberArray(
        read(name, pointer),
        # "members" reads better than "member_members"
        "members" if prefix == "member" else f"{prefix}_members",
        ids,
        python_literal(quoted(pointer)),
        included,
        "included" if included is None else repr(included),
        collected,
        collected_type,
        collect,
    )


def read(prop: str, pointer: str) -> ir.Read:
    label = f"{prop} {quoted(pointer)}"
    return ir.Read(
        steps=tuple(step(token) for token in JsonPointer(pointer).parts),
        label_literal=python_literal(label),
        comment=comment_text(label),
    )


def step(token: str) -> ir.Step:
    index = int(token) if ARRAY_INDEX.fullmatch(token) else None
    return ir.Step(key_literal=repr(token), index=index)


def lower_matcher(matcher: str) -> ir.Matcher:
    return ir.Matcher(
        comment=comment_text(f"arrayInclusion.matcher {json.dumps(matcher)}"),
        pattern_literal=python_literal(translate(matcher)),
        test_function=TEST_FUNCTIONS[subject_form(matcher)],
    )


def quoted(pointer: str) -> str:
    """A pointer as messages quote it (JSON string syntax, so nothing is ambiguous)."""
    return json.dumps(pointer, ensure_ascii=False)
