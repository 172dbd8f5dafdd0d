"""The whole-array fast paths agree with the reference interpreter on long member arrays.

Generated parsers read arrays of more than a few members with C-level passes, which vouch
for the members from the first on and leave the rest to the exact loop. The differential
tests draw arrays of up to 6 members, below that size; here arrays hold 9 to 16 or so, mostly
members the passes can vouch for, with the differential tests' own members (valid and
broken) mixed in at random places, for every shipped and golden manifest.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonpointer import JsonPointer

from tests import test_differential as differential
from tests.reference_interpreter import InterpreterError, interpret_bytes

MANIFESTS = differential.MANIFESTS
EXAMPLES = settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck)
)
PLAIN_IDS = st.one_of(
    st.sampled_from(["u1", "u2", "u3", "ü", "7", "-0"]),
    st.integers(-5, 2**70),  # integers are plain too: made decimal strings
    st.text(min_size=1, max_size=4),
)


@st.composite
def plain_members(draw, member_parser: dict, boolean: bool, cohort: object) -> dict:
    """A member the C-level checks vouch for: in the request's cohort or another."""
    member: dict = draw(st.dictionaries(st.sampled_from(["x", "note"]), st.integers()))
    differential.put(member, member_parser["memberIdPath"], draw(PLAIN_IDS))
    if boolean:
        differential.put(
            member, member_parser["booleanMembershipPath"], draw(st.booleans())
        )
    if "cohortIdPath" in member_parser:
        named = st.sampled_from(
            [differential.MISSING, None, cohort, cohort, "c2", "c3"]
        )
        differential.put(member, member_parser["cohortIdPath"], draw(named))
    if "cohortNamePath" in member_parser:
        differential.put(
            member, member_parser["cohortNamePath"], draw(differential.OVERRIDE_IDS)
        )
    return member


def odd_override(member: dict, member_parser: dict) -> dict:
    """A plain member whose cohort override is a container (not id-like, unhashable)."""
    if "cohortIdPath" in member_parser:
        differential.put(member, member_parser["cohortIdPath"], [member.get("x", 0)])
    return member


@st.composite
def long_bodies(draw, manifest: dict) -> dict:
    """A differential body whose member arrays hold 9 to 40 members."""
    parser = manifest["capabilities"]["syncedSegment"]["requestParser"]
    member_parser = parser["memberArrayParser"]
    boolean = "arrayInclusion" not in parser and "memberArrayPath" in parser
    doc = draw(differential.bodies(manifest))
    # Mostly past the request-level checks, to the members: placed after the arrays,
    # as a cohort pointer may lead into one (/batch/0/cohortId).
    valid = draw(st.integers(0, 3)) > 0
    cohort = "c1" if valid else differential.resolve(doc, parser["cohortIdPath"])
    plain = plain_members(member_parser, boolean, cohort)
    other = differential.members(member_parser, boolean, clean=False)
    odd = plain.map(lambda member: odd_override(member, member_parser))
    for name in ("memberArrayPath", "addMemberArrayPath", "removeMemberArrayPath"):
        if name not in parser:
            continue
        count = draw(st.integers(9, 16))
        # Half of the arrays are plain throughout, the others irregular from somewhere.
        irregular = draw(st.sampled_from([0, 0, 1, 3]))
        members = draw(st.lists(plain, min_size=count, max_size=count))
        for _ in range(irregular):
            members.insert(draw(st.integers(0, count)), draw(other | odd))
        differential.put(doc, parser[name], members)
    if valid:
        for name, value in (("environmentIdPath", "e1"), ("cohortIdPath", cohort)):
            differential.put(doc, parser[name], value)
        differential.put(doc, parser["cohortNamePath"], "name")
        if "arrayInclusion" in parser:
            action = draw(st.sampled_from(["add", "remove"]))
            differential.put(doc, parser["arrayInclusion"]["path"], action)
    return doc


SINGLE_TOKEN = sorted(
    key
    for key, manifest in MANIFESTS.items()
    if all(
        len(JsonPointer(pointer).parts) == 1
        for pointer in manifest["capabilities"]["syncedSegment"]["requestParser"][
            "memberArrayParser"
        ].values()
    )
)


@pytest.mark.parametrize("key", sorted(MANIFESTS))
def test_long_arrays_agree_with_reference_interpreter(key, request):
    forms = differential.forms_for(key, request)  # the package and its single file
    templated = "jsonResponseBody" in MANIFESTS[key]["capabilities"]["syncedSegment"]

    @EXAMPLES
    @given(doc=long_bodies(MANIFESTS[key]))
    def agree(doc):
        expected = differential.oracle_outcome(key, doc)
        body = json.dumps(doc).encode()
        try:
            interpret_bytes(key, MANIFESTS[key], body)
        except InterpreterError as error:
            status = error.status
        else:
            status = 200 if templated else 204
        for form in forms:
            assert differential.generated_outcome(form, key, doc) == expected
            assert form.handle(key, body)[0] == status

    agree()


@pytest.mark.parametrize("key", SINGLE_TOKEN)
def test_fast_paths_vouch_for_members_up_to_the_first_irregular_one(
    key, request, monkeypatch
):
    """Where the tests above compare results, this shows which path produced them."""
    package = differential.forms_for(key, request)[0]
    runtime = package._runtime
    ends = []

    def recording(function):
        def record(members, *args):
            result = function(members, *args)
            ends.append((len(members), result[1]))
            return result

        return record

    for name in ("plain_ids", "plain_ops", "plain_cohorts"):
        monkeypatch.setattr(runtime, name, recording(getattr(runtime, name)))
    parser = MANIFESTS[key]["capabilities"]["syncedSegment"]["requestParser"]
    member_parser = parser["memberArrayParser"]
    plain = {"__note": 1}
    differential.put(plain, member_parser["memberIdPath"], "u")
    if "booleanMembershipPath" in member_parser and "arrayInclusion" not in parser:
        differential.put(plain, member_parser["booleanMembershipPath"], True)
    cases = [
        ([dict(plain, __n=i) for i in range(12)], 12),  # all plain: the passes do all
        ([plain] * 7 + [[]] + [plain] * 4, 7),  # an array at 7: the exact loop from it
    ]
    if "cohortIdPath" in member_parser and "arrayInclusion" not in parser:
        others = [dict(plain, __n=i) for i in range(12)]
        for i, other in enumerate(others[3::4]):  # two other cohorts: sorted in C
            differential.put(other, member_parser["cohortIdPath"], f"other-{i % 2}")
        cases.append((others, 12))
    for members, end in cases:
        doc: dict = {}
        differential.put(doc, parser["environmentIdPath"], "e")
        for name in ("memberArrayPath", "addMemberArrayPath", "removeMemberArrayPath"):
            if name in parser:
                differential.put(doc, parser[name], members)
        differential.put(doc, parser["cohortIdPath"], "c")
        differential.put(doc, parser["cohortNamePath"], "n")
        if "arrayInclusion" in parser:
            differential.put(doc, parser["arrayInclusion"]["path"], "add")
        ends.clear()
        assert differential.generated_outcome(package, key, doc) == (
            differential.oracle_outcome(key, doc)
        )
        assert ends and ends[0] == (12, end), ends
