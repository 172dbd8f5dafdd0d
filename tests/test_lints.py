"""The lints' parts: pointer suggestions, what a matcher can match, removal words, and
clean manifests staying clean."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.build import build
from compiler.diagnostics import pointer_join
from compiler.jsregex import js_test, parse_tree, translate
from compiler.matcher_lints import (
    ignoring_case,
    looks_like_addition,
    looks_like_removal,
)
from compiler.pointer_lints import spelling_problem, suggested_pointer
from compiler.regex_facts import dead_anchors, samples
from compiler.validate import schema_validator
from tests.conftest import GOLDEN, SHIPPED

POINTER_RULE = re.compile(schema_validator().schema["$defs"]["pointer"]["pattern"])
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
INDEXES = st.integers(0, 99).map(str)
TOKENS = st.lists(NAMES | INDEXES, min_size=1, max_size=5).filter(
    lambda t: not t[0].isdigit()  # a path starts with a key: `0.a` is not a spelling
)


def passes_pointer_rule(pointer: str) -> bool:
    return POINTER_RULE.match(pointer).end() == len(pointer)


def spellings(tokens: list[str]) -> list[str]:
    """The ways partners write the path of these tokens that are not pointers."""
    dotted = ".".join(tokens)
    bracket = tokens[0] + "".join(
        f"[{t}]" if t.isdigit() else f".{t}" for t in tokens[1:]
    )
    quoted = "".join(f"[{t}]" if t.isdigit() else f"['{t}']" for t in tokens)
    return [
        dotted,
        bracket,
        "$." + bracket,
        "$" + quoted,
        "/" + bracket,
        "/" + dotted,
        "#" + pointer_join(*tokens),
    ]


@settings(max_examples=200, deadline=None)
@given(TOKENS)
def test_every_spelling_suggests_the_pointer_it_means(tokens):
    meant = pointer_join(*tokens)
    for spelled in spellings(tokens):
        fixed = suggested_pointer(spelled)
        assert fixed == meant, spelled
        assert passes_pointer_rule(fixed)
        # and the suggestion itself draws no spelling warning: no dot or bracket form
        assert spelling_problem("m.json", "/x", fixed) is None, spelled


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_any_text_gets_a_suggestion_that_is_a_valid_pointer(text):
    assert passes_pointer_rule(suggested_pointer(text))


@pytest.mark.parametrize(
    ("spelled", "meant"),
    [
        ("$.environmentId", "/environmentId"),
        ("$.a[0].b", "/a/0/b"),
        ("members[0].id", "/members/0/id"),
        ("members.id", "/members/id"),
        ("/members[0].id", "/members/0/id"),
        ("$['a/b']['c~d']", "/a~1b/c~0d"),
        ("$", ""),
        ("#/a%20b", "/a b"),
        ("cohortName", "/cohortName"),
        ("batch/0/cohortId", "/batch/0/cohortId"),
        ("/a~b", "/a~0b"),
    ],
)
def test_suggestions(spelled, meant):
    assert suggested_pointer(spelled) == meant


DEAD = ["a^b", "$a", "^add$x", "/^add$/i", "(?:a|b)^c", "a{1}^", "[]", "b$c^|a^",
        "x(?=^)", "(?<=a)^", "a(?:$)b", "(a$)+b"]  # fmt: skip
ALIVE = {"^add$": "add", "(?:a|)^b": "b", "^$": "", "a?^b": "b", "(^a|b)$": "a",
         "a*^b": "b", "$|a": "x", "(?!^)a": "ba", "^(?=a)a$": "a", "x{0}^a": "a",
         "^(?:add|remove)_member$": "add_member", "(?=a$)a": "a", "(a$)*b": "b"}  # fmt: skip


@pytest.mark.parametrize("pattern", DEAD)
def test_patterns_that_can_match_nothing(pattern):
    dead, _ = dead_anchors(parse_tree(pattern))
    assert dead
    assert not any(js_test(translate(pattern), s) for s in ["", "a", "b", "ab", "/a/"])


@pytest.mark.parametrize(("pattern", "witness"), sorted(ALIVE.items()))
def test_patterns_that_can_match(pattern, witness):
    assert dead_anchors(parse_tree(pattern)) == (False, [])
    assert js_test(translate(pattern), witness)


PATTERN = st.lists(st.sampled_from(["a", "b", "^", "$", "|", "(", ")", "?", "*", "(?:",
                                    "(?=", "(?!", "{2}"]), max_size=8).map("".join)  # fmt: skip
SUBJECTS = ["", "a", "b", "aa", "ab", "ba", "bb", "aab", "abab", "aaaa"]


@settings(max_examples=400, deadline=None)
@given(PATTERN)
def test_a_pattern_said_dead_matches_nothing(pattern):
    """Soundness: the lint never calls a matcher that can match dead."""
    try:
        python = translate(pattern)
    except ValueError:
        return
    if dead_anchors(parse_tree(pattern))[0]:
        assert not any(js_test(python, s) for s in SUBJECTS), pattern


@settings(max_examples=300, deadline=None)
@given(PATTERN)
def test_samples_are_strings_built_along_the_pattern(pattern):
    try:
        python = translate(pattern)
    except ValueError:
        return
    if "(?" in pattern or "^" in pattern[1:] or "$" in pattern[:-1]:
        return  # lookarounds and inner anchors are ignored by samples, by design
    found = samples(parse_tree(pattern))
    assert found and any(js_test(python, s) for s in found), pattern


@pytest.mark.parametrize(
    "action",
    ["remove", "REMOVE_MEMBERS", "remove_from_audience", "userExitedAudience",
     "opt-out", "unsubscribe", "leave_audience", "deleted", "member_rm"],
)  # fmt: skip
def test_removal_words(action):
    assert looks_like_removal(action)


@pytest.mark.parametrize(
    "action", ["add", "add_members", "members", "join", "model", "existing", "sync"]
)
def test_not_removal_words(action):
    assert not looks_like_removal(action)


def test_addition_words():
    assert all(map(looks_like_addition, ["ADD", "user_entered_audience", "join"]))
    assert not any(map(looks_like_addition, ["members", "sync", "remove"]))


@pytest.mark.parametrize("body", ["^add$", "^(add|add_MEMBERS)$", "member", "a+B*"])
def test_a_case_insensitive_rewrite_is_the_i_flag(body):
    """For ASCII letters, /i matches w exactly when the lower-cased pattern matches
    the lower-cased w."""
    python = translate(ignoring_case(body))
    lowered = translate(body.lower())
    for word in ["add", "ADD", "Add", "aDd", "add_members", "ADD_MEMBERS", "MeMbEr",
                 "aab", "AAB", "abbb", "x", "remove"]:  # fmt: skip
        assert js_test(python, word) == js_test(lowered, word.lower()), word


def test_shipped_manifests_say_nothing():
    result = build(SHIPPED, formatter=None)
    assert result.ok and result.diagnostics == ()


def test_golden_manifests_say_only_their_intended_warning():
    result = build(GOLDEN, formatter=None)
    assert result.ok
    assert [(d.file.split("/")[-2], d.code) for d in result.diagnostics] == [
        ("complex-matcher", "boolean-ignored")  # its description says so
    ]
