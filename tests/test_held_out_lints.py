"""Held out: each lint catches its mistake on manifests no fixture was written from.

Hypothesis takes a shipped (or upstream) manifest, makes one mistake a partner makes
(a regex literal, a misplaced anchor, a removal the matcher accepts, a JSONPath,
dotted, bracketed or slashed pointer, a template typo, a body field no pointer reads, a
member path written from the root, two values from one place) and checks that the
right code fires at the right pointer, with a line, a column and a fix; where the
lint offers a replacement, putting it in silences it, and for a mistake that only
respells a value, gives the original value back. Unmutated, they say nothing.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Callable, Optional

import jsonpointer
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from compiler.diagnostics import placed
from compiler.load import manifest_from_bytes
from compiler.pointer_lints import request_values
from compiler.template_lints import CONTEXT_NAMES
from compiler.validate import validate
from tests.conftest import SHARED, manifests_in
from tests.conftest import SHIPPED as SHIPPED_DIR

CAPABILITY = "/capabilities/syncedSegment"
PARSER = CAPABILITY + "/requestParser"
MATCHER = PARSER + "/arrayInclusion/matcher"
TEMPLATE = CAPABILITY + "/jsonResponseBody"
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

SHIPPED = manifests_in(SHIPPED_DIR)


def upstream() -> dict[str, dict]:
    folder = SHARED / "reference" / "upstream-manifests"
    found = {}
    for path in sorted(folder.glob("*.json")):
        entry = json.loads(path.read_text(encoding="utf-8"))
        found[entry["key"]] = {
            "capabilities": {"syncedSegment": entry["syncedSegment"]}
        }
    return found


UPSTREAM = upstream()
ALL = {**{f"shipped:{k}": v for k, v in SHIPPED.items()},
       **{f"upstream:{k}": v for k, v in UPSTREAM.items()}}  # fmt: skip


@dataclass(frozen=True)
class Mistake:
    document: dict
    code: str
    pointer: str
    original: Optional[str] = None  # the value a replacement must give back, if any


def diagnostics(document: dict) -> list:
    text = json.dumps(document, indent=2)
    manifest, problem = manifest_from_bytes("held-out", "m.json", "m", text.encode())
    assert problem is None
    source = manifest.source_map()
    return [placed(d, source) for d in validate(manifest)]


def parser_of(document: dict) -> dict:
    return document["capabilities"]["syncedSegment"]["requestParser"]


def pointer_props(document: dict) -> list[tuple[str, str]]:
    """(manifest pointer, value) of the request-level pointers with plain tokens."""
    props = []
    for name, value in request_values(parser_of(document)).items():
        tokens = value.split("/")[1:]
        if tokens and all(NAME.fullmatch(t) or t.isdigit() for t in tokens):
            if not tokens[0].isdigit():
                props.append((PARSER + "/" + name, value))
    return props


def set_at(document: dict, pointer: str, value) -> dict:
    changed = copy.deepcopy(document)
    jsonpointer.set_pointer(changed, pointer, value)
    return changed


# --- mistakes ------------------------------------------------------------------------


def regex_literal(document, draw) -> Optional[Mistake]:
    matcher = parser_of(document).get("arrayInclusion", {}).get("matcher")
    if matcher is None:
        return None
    flags = draw(st.sampled_from(["", "i", "g", "gi", "u"]))
    original = matcher if "i" not in flags else None
    wrapped = f"/{matcher}/{flags}"
    return Mistake(set_at(document, MATCHER, wrapped), "matcher-regex-literal", MATCHER,
                   original)  # fmt: skip


def misplaced_anchor(document, draw) -> Optional[Mistake]:
    matcher = parser_of(document).get("arrayInclusion", {}).get("matcher")
    if matcher is None or not matcher.startswith("^") or not matcher.endswith("$"):
        return None
    extra = draw(st.sampled_from(["x", "_", "s", " "]))
    moved = draw(st.sampled_from([extra + matcher, matcher + extra, "$" + matcher[1:]]))
    return Mistake(set_at(document, MATCHER, moved), "matcher-never-matches", MATCHER)


def removal_accepted(document, draw) -> Optional[Mistake]:
    matcher = parser_of(document).get("arrayInclusion", {}).get("matcher")
    if matcher is None:
        return None
    word = draw(st.sampled_from(["remove", "leave", "unsubscribe", "exited", "delete",
                                 "opt_out", "revoked"]))  # fmt: skip
    spelled = draw(st.sampled_from([word, word.upper(), f"{word}_members",
                                    f"audience_{word}"]))  # fmt: skip
    wider = f"(?:{matcher})|^{spelled}$"
    return Mistake(set_at(document, MATCHER, wider), "matcher-accepts-removal", MATCHER)


def jsonpath(document, draw) -> Optional[Mistake]:
    props = pointer_props(document)
    if not props:
        return None
    where, pointer = draw(st.sampled_from(props))
    tokens = pointer.split("/")[1:]
    style = draw(st.sampled_from(["$", "dotted", "bracket", "quoted"]))
    steps = "".join(f"[{t}]" if t.isdigit() else f".{t}" for t in tokens)
    spelled = {
        "$": "$" + steps,
        "dotted": ".".join(tokens),
        "bracket": steps.lstrip("."),
        "quoted": "$"
        + "".join(f"[{t}]" if t.isdigit() else f"['{t}']" for t in tokens),
    }[style]
    return Mistake(set_at(document, where, spelled), "bad-pointer", where, pointer)


def dotted_or_bracket_token(document, draw) -> Optional[Mistake]:
    props = [(w, p) for w, p in pointer_props(document) if p.count("/") >= 2]
    if not props:
        return None
    where, pointer = draw(st.sampled_from(props))
    tokens = pointer.split("/")[1:]
    cut = draw(st.integers(1, len(tokens) - 1))
    joined = "".join(f"[{t}]" if t.isdigit() else f".{t}" for t in tokens[cut:])
    spelled = "/" + "/".join(tokens[: cut - 1] + [tokens[cut - 1] + joined])
    code = "bracket-index" if "[" in spelled else "dotted-token"
    return Mistake(set_at(document, where, spelled), code, where, pointer)


def doubled_slash(document, draw) -> Optional[Mistake]:
    props = pointer_props(document)
    if not props:
        return None
    where, pointer = draw(st.sampled_from(props))
    spelled = draw(
        st.sampled_from([pointer + "/", "/" + pointer, pointer.replace("/", "//", 2)])
    )
    return Mistake(set_at(document, where, spelled), "empty-token", where, pointer)


def template_typo(document, draw) -> Optional[Mistake]:
    template = document["capabilities"]["syncedSegment"].get("jsonResponseBody")
    if template is None:
        return None
    used = sorted(
        {n for n in CONTEXT_NAMES if "{{" + n + "}}" in template} - {"errorMessage"}
    )
    if not used:
        return None
    name = draw(st.sampled_from(used))
    i = draw(st.integers(1, len(name) - 2))
    typo = draw(st.sampled_from([name[:i] + name[i + 1 :],  # a letter left out
                                 name[:i] + name[i + 1] + name[i] + name[i + 2 :]]))  # fmt: skip
    if typo == name:
        return None
    changed = template.replace("{{" + name + "}}", "{{" + typo + "}}", 1)
    return Mistake(set_at(document, TEMPLATE, changed), "template-unknown-name", TEMPLATE,
                   template)  # fmt: skip


def unread_body_field(document, draw) -> Optional[Mistake]:
    """The seeds/002 mistake: {{requestBody.<value's name>}} where the body holds the
    value elsewhere; the fix is the path of the pointer that reads it."""
    values = request_values(parser_of(document))
    names = {"environmentIdPath": "environmentId", "cohortIdPath": "cohortId",
             "cohortNamePath": "cohortName", "contextKindPath": "contextKind"}  # fmt: skip
    elsewhere = [
        (p, n) for p, n in names.items() if p in values and values[p] != "/" + n
    ]
    if not elsewhere:
        return None
    prop, name = draw(st.sampled_from(elsewhere))
    tokens = values[prop].split("/")[1:]
    if not all(NAME.fullmatch(t) or t.isdigit() for t in tokens):
        return None
    right = ".".join(f"[{t}]" if t.isdigit() else t for t in tokens)
    template = document["capabilities"]["syncedSegment"].get("jsonResponseBody") or (
        '{ "segmentKey": "{{segmentKey}}", "error": "{{errorMessage}}" }'
    )
    fixed = template.replace("{", '{ "v": "{{requestBody.' + right + '}}",', 1)
    wrong = fixed.replace(
        "{{requestBody." + right + "}}", "{{requestBody." + name + "}}", 1
    )
    return Mistake(set_at(document, TEMPLATE, wrong), "template-unread-body", TEMPLATE,
                   fixed)  # fmt: skip


def member_path_from_root(document, draw) -> Optional[Mistake]:
    parser = parser_of(document)
    arrays = [
        parser[n] for n in ("memberArrayPath", "addMemberArrayPath") if n in parser
    ]
    member = parser["memberArrayParser"]["memberIdPath"]
    if not arrays or not member.startswith("/"):
        return None
    index = draw(st.sampled_from(["", "/0"]))
    rooted = arrays[0] + index + member
    where = PARSER + "/memberArrayParser/memberIdPath"
    return Mistake(
        set_at(document, where, rooted), "member-path-from-root", where, member
    )


def same_place(document, draw) -> Optional[Mistake]:
    parser = parser_of(document)
    members = parser["memberArrayParser"]
    options = []
    if "booleanMembershipPath" in members:
        options.append(
            ("/memberArrayParser/booleanMembershipPath", members["memberIdPath"])
        )
    if "removeMemberArrayPath" in parser:
        options.append(("/removeMemberArrayPath", parser["addMemberArrayPath"]))
    options.append(("/cohortIdPath", parser["environmentIdPath"]))
    where, value = draw(st.sampled_from(options))
    return Mistake(
        set_at(document, PARSER + where, value), "same-place", PARSER + where
    )


MISTAKES: list[Callable] = [regex_literal, misplaced_anchor, removal_accepted, jsonpath,
                            dotted_or_bracket_token, doubled_slash, template_typo,
                            unread_body_field, member_path_from_root, same_place]  # fmt: skip


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.__name__)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)
@given(data=st.data())
def test_each_mistake_is_caught_with_pointer_position_and_fix(mistake, data):
    key = data.draw(st.sampled_from(sorted(ALL)), label="manifest")
    made = mistake(ALL[key], data.draw)
    if made is None:
        return  # this manifest has nothing this mistake applies to
    said = [d for d in diagnostics(made.document) if d.code == made.code]
    assert [d.pointer for d in said][:1] == [made.pointer], (key, made, said)
    found = said[0]
    assert found.line > 0 and found.column > 0 and found.hint
    if found.replacement is None:
        return
    repaired = set_at(made.document, made.pointer, found.replacement)
    assert same_kind(repaired, made) <= same_kind(ALL[key], made), found.replacement
    if made.original is not None:
        assert found.replacement == made.original


def same_kind(document: dict, made: Mistake) -> int:
    """How many diagnostics of the mistake's code at its pointer (an upstream manifest
    may have one before any mistake is made)."""
    return sum(
        d.code == made.code and d.pointer == made.pointer for d in diagnostics(document)
    )


def simplest(strategy, label=None):
    """A draw that takes the simplest value of every strategy."""
    return find(strategy, lambda _: True)


def test_every_mistake_applies_to_some_shipped_manifest():
    """So that none of the tests above passes by never finding a manifest to spoil."""
    applies = {m.__name__: [k for k in SHIPPED if m(SHIPPED[k], simplest) is not None]
               for m in MISTAKES}  # fmt: skip
    assert all(applies.values()), applies


@pytest.mark.parametrize("key", sorted(SHIPPED))
def test_unmutated_shipped_manifests_say_nothing(key):
    assert diagnostics(SHIPPED[key]) == []
