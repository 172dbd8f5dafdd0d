"""compiler.jsregex against JavaScript's own answers.

tests/data/js_regex_cases.json has node's answers for `new RegExp(pattern).test(input)`;
re-record it with `python tests/data/record_js_regex.py`. A live test asks node directly
when it is installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import jsregex
from compiler.jsregex import UnsupportedRegex, js_test, to_code_units, translate

DATA = Path(__file__).resolve().parent / "data"
RECORDED = json.loads((DATA / "js_regex_cases.json").read_text(encoding="ascii"))
TRICKY_INPUTS: list[str] = RECORDED["tricky_inputs"]
CASES: list[dict] = RECORDED["cases"]
CASES_BY_PATTERN = {case["pattern"]: case for case in CASES}

# Valid JavaScript that translate() refuses on purpose, with the construct it must name.
DELIBERATE_REFUSALS = {
    r"(a)\1": "backreference",
    r"(a)|\1b": "backreference",
    r"\1(a)": "backreference",
    r"(a\1)": "backreference",
    r"(?:(a)|b)\1": "backreference",
    r"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\10": "backreference",
    r"(?<a>x)\k<a>": "backreference",
    r"\k<a>(?<a>x)": "backreference",
    r"(?<=a+)b": "variable-length lookbehind",
    r"(?<=a*)b": "variable-length lookbehind",
    r"(?<=a?)b": "variable-length lookbehind",
    r"(?<=(?:a|bc))d": "variable-length lookbehind",
    r"(?<=a{1,2})b": "variable-length lookbehind",
    r"(?<é>x)": "unsupported group name",
    r"(?<\u0061>x)": "unsupported group name",
    "(" * 400 + "a" + ")" * 400: "nesting too deep",
}
PARTNER_MATCHERS = [
    r"^add$",
    r"^add_member$",
    r"^(add_member|remove_member)$",
    r"^(members|add_members)$",
]
TRANSLATABLE = [
    case["pattern"]
    for case in CASES
    if case["error"] is None and case["pattern"] not in DELIBERATE_REFUSALS
]


def case_id(case: dict) -> str:
    """A readable, ASCII-only test id for a recorded pattern."""
    return ascii(case["pattern"])[1:-1][:60] or "<empty>"


def recorded_expectations(case: dict) -> list[tuple[str, bool]]:
    """(input, node's answer) for every input recorded for a valid pattern."""
    inputs = TRICKY_INPUTS + case["inputs"]
    assert len(inputs) == len(case["results"])
    return [(value, flag == "1") for value, flag in zip(inputs, case["results"])]


def disagreements(test: Callable[[str], bool], case: dict) -> list[tuple[str, bool]]:
    """The recorded inputs where `test` answers differently from node."""
    return [
        (value, expected)
        for value, expected in recorded_expectations(case)
        if test(value) != expected
    ]


def with_flags(python_pattern: str, flags: int) -> Callable[[str], bool]:
    """js_test, but compiling the translation with Python flags."""
    compiled = re.compile(python_pattern, flags)
    return lambda value: compiled.search(to_code_units(value)) is not None


# --------------------------------------------------------------------------------------
# The recording itself


def test_recording_covers_the_constructs() -> None:
    assert len(CASES) >= 150
    assert set(PARTNER_MATCHERS) <= set(CASES_BY_PATTERN)
    assert sum(case["error"] is not None for case in CASES) >= 30
    assert len(TRANSLATABLE) >= 150
    assert sum(len(case.get("results", "")) for case in CASES) >= 10_000


def test_recording_keeps_lone_surrogates() -> None:
    # JSON escapes must bring the code units back exactly, lone surrogates included.
    assert "\ud83d" in TRICKY_INPUTS
    assert "\ude00\ud83d" in TRICKY_INPUTS
    expectations = dict(recorded_expectations(CASES_BY_PATTERN["^\ud83d"]))
    assert expectations["\ud83d"] is True
    assert expectations["😀"] is True
    assert expectations["\ude00"] is False


# --------------------------------------------------------------------------------------
# Differential tests against the recording


@pytest.mark.parametrize(
    "case",
    [case for case in CASES if case["pattern"] not in DELIBERATE_REFUSALS],
    ids=case_id,
)
def test_translation_agrees_with_node(case: dict) -> None:
    pattern = case["pattern"]
    if case["error"] is not None:
        with pytest.raises(UnsupportedRegex) as raised:
            translate(pattern)
        assert raised.value.construct.startswith("invalid syntax: "), case["error"]
        return
    python_pattern = translate(pattern)
    assert disagreements(lambda value: js_test(python_pattern, value), case) == []


@pytest.mark.parametrize(
    "pattern", TRANSLATABLE, ids=lambda pattern: ascii(pattern)[:60]
)
def test_translation_does_not_depend_on_python_flags(pattern: str) -> None:
    # Unicode-aware \d \w \s \b, `$` before a final "\n", `.` and verbose whitespace all
    # change with flags; the translation must use none of them.
    case = CASES_BY_PATTERN[pattern]
    for flags in (re.MULTILINE | re.DOTALL | re.VERBOSE, re.ASCII):
        assert disagreements(with_flags(translate(pattern), flags), case) == []


@pytest.mark.parametrize(
    "table", RECORDED["every_code_unit"], ids=lambda t: t["pattern"]
)
def test_every_code_unit_agrees_with_node(table: dict) -> None:
    compiled = re.compile(translate(table["pattern"]))
    matching = [unit for unit in range(0x10000) if compiled.search(chr(unit))]
    ranges: list[list[int]] = []
    for unit in matching:
        if ranges and ranges[-1][1] == unit - 1:
            ranges[-1][1] = unit
        else:
            ranges.append([unit, unit])
    assert ranges == table["ranges"]


@pytest.mark.parametrize(
    "pattern,construct",
    sorted(DELIBERATE_REFUSALS.items()),
    ids=lambda v: ascii(v)[:30],
)
def test_deliberate_refusals(pattern: str, construct: str) -> None:
    assert (
        CASES_BY_PATTERN[pattern]["error"] is None
    ), "node accepts it: the refusal is ours"
    with pytest.raises(UnsupportedRegex) as raised:
        translate(pattern)
    assert raised.value.construct == construct


# --------------------------------------------------------------------------------------
# The error type and a few translations spelled out


def test_unsupported_regex_names_construct_and_position() -> None:
    with pytest.raises(UnsupportedRegex) as raised:
        translate(r"ab(?<=x+)c")
    error = raised.value
    assert isinstance(error, ValueError)
    assert (error.construct, error.position) == ("variable-length lookbehind", 2)
    assert error.reason
    assert str(error) == f"variable-length lookbehind at position 2: {error.reason}"


@pytest.mark.parametrize(
    "pattern,construct,position",
    [
        ("(a", "invalid syntax: unterminated group", 0),
        ("x)", "invalid syntax: unmatched ')'", 1),
        ("[ab", "invalid syntax: unterminated character class", 0),
        ("ab*+", "invalid syntax: nothing to repeat", 3),
        ("(?<=a)?", "invalid syntax: invalid quantifier", 6),
        ("(?i)x", "invalid syntax: invalid group", 0),
        ("x(a)\\1", "backreference", 4),
        # Positions count UTF-16 code units, as JavaScript does: the emoji is two.
        ("😀(", "invalid syntax: unterminated group", 2),
    ],
)
def test_error_positions(pattern: str, construct: str, position: int) -> None:
    with pytest.raises(UnsupportedRegex) as raised:
        translate(pattern)
    assert (raised.value.construct, raised.value.position) == (construct, position)


def test_syntax_error_wins_over_a_refusal_earlier_in_the_pattern() -> None:
    with pytest.raises(UnsupportedRegex) as raised:
        translate(r"(a)\1(")
    assert raised.value.construct == "invalid syntax: unterminated group"


@pytest.mark.parametrize(
    "pattern,python_pattern",
    [
        (r"^add_member$", r"\Aadd_member\Z"),
        (r"^(add_member|remove_member)$", r"\A(add_member|remove_member)\Z"),
        (r"\d+", r"[0-9]"),  # a search answers alike with one digit (for_search)
        (r"^\d+", r"\A[0-9]"),  # starts with a digit
        (r"^\d+$", r"\A[0-9]+\Z"),
        (r".*add.*", r"add"),
        (r"\w+_added|x{2,}", r"[0-9A-Z_a-z]_added|x{2}"),
        (r".", r"[^\n\r\u2028\u2029]"),
        (r"[]", r"(?!)"),
        (r"(?<=a|bc)d", r"(?:(?<=a)|(?<=bc))d"),
        ("[😀]", r"[\ud83d\ude00]"),
        ("", ""),
    ],
)
def test_translation_text(pattern: str, python_pattern: str) -> None:
    assert translate(pattern) == python_pattern


def test_surrogates_appear_only_as_escapes() -> None:
    for pattern in ["\ud83d", "😀", r"\ud83d", r"[\ud800-\udbff]"]:
        assert translate(pattern).isascii()


# --------------------------------------------------------------------------------------
# Code units


def test_to_code_units_splits_astral_characters() -> None:
    assert to_code_units("a😀b") == "a\ud83d\ude00b"
    assert to_code_units("\U0010ffff") == "\udbff\udfff"
    assert to_code_units("\ud83d") == "\ud83d"


def test_to_code_units_returns_bmp_strings_unchanged() -> None:
    for value in ["add_member", "é١ß\u2028", ""]:
        assert to_code_units(value) is value


@given(st.text())
def test_to_code_units_round_trips(value: str) -> None:
    units = to_code_units(value)
    assert all(ord(unit) <= 0xFFFF for unit in units)
    assert len(units) == len(value.encode("utf-16-le")) // 2
    assert units.encode("utf-16-le", "surrogatepass").decode("utf-16-le") == value


def any_string(pattern: str) -> st.SearchStrategy[str]:
    """Strings of the pattern's own characters, any others, and lone surrogates."""
    characters = st.one_of(
        st.sampled_from(sorted(set(pattern + "a_0 \n\u2028é😀"))),
        st.characters(),
        st.characters(categories=["Cs"]),
    )
    return st.lists(characters, max_size=12).map("".join)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(TRANSLATABLE).flatmap(
        lambda p: st.tuples(st.just(p), any_string(p))
    )
)
def test_translations_never_raise_at_match_time(pair: tuple[str, str]) -> None:
    pattern, value = pair
    assert js_test(translate(pattern), value) in (True, False)


# --------------------------------------------------------------------------------------
# Live: ask node itself


NODE = shutil.which("node")


@pytest.fixture(scope="module")
def node_process():
    """One node process answering requests line by line (see record_js_regex.mjs)."""
    process = subprocess.Popen(
        [NODE, str(DATA / "record_js_regex.mjs")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="ascii",
    )
    yield process
    process.stdin.close()
    process.wait(timeout=10)


def ask_node(process: subprocess.Popen, pairs: list[tuple[str, str]]) -> list[bool]:
    """node's answers for a batch of (pattern, input) pairs."""
    for pattern, value in pairs:
        # json.dumps escapes every non-ASCII code unit, lone surrogates included.
        process.stdin.write(json.dumps({"pattern": pattern, "inputs": [value]}) + "\n")
    process.stdin.flush()
    return [json.loads(process.stdout.readline())["results"][0] for _ in pairs]


@pytest.mark.skipif(NODE is None, reason="node is not on PATH")
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(TRANSLATABLE).flatmap(
            lambda p: st.tuples(st.just(p), any_string(p))
        ),
        min_size=20,
        max_size=20,
    )
)
def test_live_against_node(node_process, pairs: list[tuple[str, str]]) -> None:
    expected = ask_node(node_process, pairs)
    actual = [js_test(translate(pattern), value) for pattern, value in pairs]
    assert actual == expected


# --- the repeats at the ends, which a search does not need (jsregex.for_search)

_ATOMS = st.sampled_from(
    ["a", "b", ".", "\\w", "[ab]", "(?:ab)", "(a|b)", "\\b", "(?=a)"]
)
_QUANTIFIERS = st.sampled_from(["", "*", "+", "?", "{2,}", "{1,3}", "*?", "+?", "{2}"])
_PIECES = st.tuples(_ATOMS, _QUANTIFIERS).map("".join)


def _pattern(pieces: list[str], anchored: tuple[bool, bool]) -> str:
    start, end = anchored
    return ("^" if start else "") + "".join(pieces) + ("$" if end else "")


@given(
    alternatives=st.lists(
        st.tuples(
            st.lists(_PIECES, max_size=4), st.tuples(st.booleans(), st.booleans())
        ),
        min_size=1,
        max_size=3,
    ),
    subjects=st.lists(st.text(alphabet="abx_\n", max_size=8), min_size=1, max_size=25),
)
def test_dropping_the_end_repeats_keeps_every_answer(alternatives, subjects) -> None:
    """translate's pattern answers every subject as the whole tree's pattern does (the
    translation checked against node above), repeats at the ends and all."""
    pattern = "|".join(_pattern(pieces, anchored) for pieces, anchored in alternatives)
    try:
        whole = jsregex._Parser(to_code_units(pattern)).parse().python()
    except UnsupportedRegex:  # `\\b*` and the like: JavaScript refuses them too
        return
    trimmed = translate(pattern)
    for subject in subjects:
        assert js_test(trimmed, subject) == js_test(whole, subject), (
            pattern,
            trimmed,
            subject,
        )


def test_a_search_keeps_no_repeat_at_its_ends() -> None:
    """What made `\\w+_added` quadratic: tried from every position, the repeat gave
    characters back at each one."""
    for pattern, kept in [
        (r"\w+_added", "[0-9A-Z_a-z]_added"),
        (r"(a|b)*c", "c"),
        (r"x|.*y.*", "x|y"),
        (r"a*", ""),
        (r"^\w+_added$", r"\A[0-9A-Z_a-z]+_added\Z"),  # anchored: linear already
    ]:
        assert translate(pattern) == kept
