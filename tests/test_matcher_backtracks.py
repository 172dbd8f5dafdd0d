"""matcher-backtracks: a repeat whose turns can share characters in exponentially many ways;
matcher-slow-search: a repeat that a search reruns from every start, quadratic.

`^(a+)+$` on "aaaa...!" makes Python's re (and JavaScript's) try every way of splitting
the a's between the turns: 2**n for n a's, and the generated parser runs the matcher on
every request. The compiler refuses such a matcher with the repeat named and, for the
`(x+)+` shapes, a fix with one repeat. The fix must give the same answer as the
matcher for every action: checked here against the matcher itself on short actions
(where even 2**n is quick), through the translation that tests/test_jsregex.py checks
against node.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.jsregex import js_test, parse_tree, translate
from compiler.matcher_lints import backtracking, slow_search
from compiler.regex_facts import nested_repeats

EXPONENTIAL = [
    "^(a+)+$",
    "^(add|join)(\\w+)*$",
    "^(\\w+\\s?)+$",  # the classic: words with optional spaces between them
    "^(x|(y+))*$",
    "x((ab)+c?)*y",
    "^(?:a+?)+?x",
    "b(a{8,})+$",
    "(?=(a+)+)b",  # inside a lookahead the engine backtracks all the same
    "^(a+|b)+$",
]
LINEAR_OR_BOUNDED = [
    "^add$",
    "^(add|add_members)$",
    "^(?:add)+$",
    "a+b+",
    "(ab)+",
    "((ab)+c)*",  # each turn ends at a c: one way to split
    "(x(a+))+",  # each turn starts at an x
    "(a+){2}",  # n ways for two turns, not 2**n
    "(a{1,3})+",
    "^(add|remove)+$",
    # at an end of the pattern, the translation drops the outer repeat (for_search):
    "(a*)*",  # searched as the empty pattern
    "(a+)+b",  # searched as (a+)b
    "(\\w+\\s?)+$",
]


@pytest.mark.parametrize("matcher", EXPONENTIAL)
def test_repeats_whose_turns_can_share_characters_are_refused(matcher: str) -> None:
    [problem] = backtracking("manifest.json", matcher)
    assert problem.code == "matcher-backtracks"
    assert problem.level == "error"
    outer, _ = nested_repeats(parse_tree(matcher))[0]
    assert problem.within == outer.span
    assert matcher[slice(*outer.span)] in problem.message


@pytest.mark.parametrize("matcher", LINEAR_OR_BOUNDED)
def test_repeats_with_one_way_to_split_are_left_alone(matcher: str) -> None:
    assert backtracking("manifest.json", matcher) == []


atoms = st.sampled_from(["a", "b", "\\w", "[ab]", ".", "(?:ab)"])
quantifiers = st.sampled_from(["+", "*", "+?", "*?"])
# never empty: a repeat at an end of the pattern is dropped before the lint looks
prefixes = st.sampled_from(["^", "^x", "b", "(?:a|b)"])
suffixes = st.sampled_from(["$", "x$", "b", "(?:a|b)"])


@given(
    prefix=prefixes,
    atom=atoms,
    inner=quantifiers,
    opener=st.sampled_from(["(", "(?:"]),
    outer=quantifiers,
    suffix=suffixes,
    actions=st.lists(st.text(alphabet="abx!", max_size=7), min_size=1, max_size=20),
)
def test_the_fix_answers_every_action_as_the_matcher_does(
    prefix, atom, inner, opener, outer, suffix, actions
) -> None:
    matcher = f"{prefix}{opener}{atom}{inner}){outer}{suffix}"
    [problem] = backtracking("manifest.json", matcher)
    fixed = problem.replacement
    assert fixed is not None, matcher
    assert backtracking("manifest.json", fixed) == []
    assert len(nested_repeats(parse_tree(fixed))) == 0
    for action in actions:
        assert js_test(translate(fixed), action) == js_test(
            translate(matcher), action
        ), (matcher, fixed, action)


def test_no_fix_is_offered_where_one_repeat_would_match_other_strings() -> None:
    [problem] = backtracking("manifest.json", "^(a{2,})+$")
    assert problem.replacement is None  # a+ would take "a"
    assert "drop the inner or the outer repeat" in problem.hint


QUADRATIC = [
    "x\\w+_added",  # an action of x's: every x a start, \\w+ runs to the end from each
    "member_\\w+_added",
    "x[a-z]*y",
    "(add|join)\\w+_x",
    "ab|x\\w+y",  # one alternative is enough
    "a.*b",  # the dot takes the a's too
]
ONE_START_OR_NO_OVERLAP = [
    "^x\\w+_added",  # anchored: one start only
    "^add$",
    "add",
    ".*add.*",  # searched as add (for_search)
    "a\\d+b",  # a start is an a, and \\d+ never takes one
    "audience$",
    "^a|^b\\w+c",
    "x[a-z]{1,3}y",  # bounded
]


@pytest.mark.parametrize("matcher", QUADRATIC)
def test_a_repeat_rerun_from_every_start_is_a_warning(matcher: str) -> None:
    [problem] = slow_search("manifest.json", matcher)
    assert problem.code == "matcher-slow-search" and problem.level == "warning"
    start, end = problem.within
    assert matcher[start:end] in problem.message


@pytest.mark.parametrize("matcher", ONE_START_OR_NO_OVERLAP)
def test_a_search_with_one_start_or_no_overlap_is_left_alone(matcher: str) -> None:
    assert slow_search("manifest.json", matcher) == []
