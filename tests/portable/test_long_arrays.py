"""Long member arrays, which the committed parsers read with C-level passes, on any Python.

test_portable.py draws up to 4 members, fewer than the generated parsers hand to the
runtime's whole-array passes; these bodies hold 9 to 24, plain members mostly, with an
irregular one (another type, another cohort, a broken member) here and there, so that
the passes and the exact loop after them agree with the reference interpreter under
PyPy as under CPython, in both forms (the package and the single file).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.portable.cases import IDS, MANIFESTS, put
from tests.portable.test_portable import EXAMPLES, check_parse

LONG = settings(EXAMPLES, max_examples=40)

PLAIN_IDS = st.one_of(st.sampled_from(["u1", "u2", "ü", "7"]), st.integers(0, 2**70))


@st.composite
def long_bodies(draw, manifest: dict) -> dict:
    parser = manifest["capabilities"]["syncedSegment"]["requestParser"]
    member_parser = parser["memberArrayParser"]

    def member(plain: bool) -> dict:
        fields: dict = {}
        for name, pointer in member_parser.items():
            if "boolean" in name:
                value = draw(st.booleans()) if plain else draw(IDS | st.booleans())
            elif name == "memberIdPath":
                value = draw(PLAIN_IDS) if plain else draw(IDS)
            else:  # a per-member cohort override: mostly the request's own
                value = draw(st.sampled_from(["x1", None]) if plain else IDS)
            put(fields, pointer, value)
        return fields

    doc: dict = {}
    for name in ("memberArrayPath", "addMemberArrayPath", "removeMemberArrayPath"):
        if name in parser:
            members = [member(True) for _ in range(draw(st.integers(9, 24)))]
            for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
                members.insert(draw(st.integers(0, len(members))), member(False))
            put(doc, parser[name], members)
    for name in ("environmentIdPath", "cohortIdPath", "cohortNamePath"):
        put(doc, parser[name], "x1")
    if "arrayInclusion" in parser:
        put(doc, parser["arrayInclusion"]["path"], draw(st.sampled_from(["add", "no"])))
    return doc


@pytest.mark.parametrize("key", sorted(MANIFESTS))
def test_long_arrays_agree_with_the_interpreter(key):
    @LONG
    @given(doc=long_bodies(MANIFESTS[key]))
    def agree(doc):
        check_parse(key, doc)

    agree()
