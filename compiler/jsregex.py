"""Translate a JavaScript regular expression into an equivalent Python `re` pattern.

A manifest's `arrayInclusion.matcher` is evaluated upstream as
`new RegExp(matcher).test(value)` with no flags. That means the non-unicode grammar of
ECMAScript Annex B, as V8 implements it: lenient identity escapes, legacy octal escapes,
literal `{` `}` `]`, quantifiable lookaheads. Matching runs over UTF-16 code units, so
an astral character is two "characters" to JavaScript.

The translator is a small recursive-descent parser that builds a tree of frozen
dataclasses; each node writes its own Python source. The emitted pattern never relies on
Python's flags or on its Unicode-aware defaults: every character class is spelled out as
explicit code-unit ranges and the anchors are `\\A` and `\\Z`. Constructs that cannot
be matched exactly (backreferences, variable-length lookbehind, ...) raise
`UnsupportedRegex`, and so does everything JavaScript rejects with a SyntaxError, so the
compiler can refuse the matcher at build time.

Error positions index the JavaScript source in UTF-16 code units, as JavaScript counts
them: the same as the Python index unless the source has astral characters.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Iterator, Optional, Union

__all__ = [
    "CHARACTERS",
    "ANY_PAIR",
    "CODE_UNITS",
    "UnsupportedRegex",
    "js_test",
    "parse_tree",
    "subject_form",
    "to_code_units",
    "translate",
]


class UnsupportedRegex(ValueError):
    """A matcher that cannot be translated exactly."""

    def __init__(self, construct: str, position: int, reason: str):
        super().__init__(f"{construct} at position {position}: {reason}")
        self.construct = construct
        self.position = position
        self.reason = reason


# --------------------------------------------------------------------------------------
# Strings as JavaScript sees them


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _surrogate_pair(match: re.Match[str]) -> str:
    """The two UTF-16 code units of one astral character."""
    offset = ord(match.group()) - 0x10000
    return chr(0xD800 + (offset >> 10)) + chr(0xDC00 + (offset & 0x3FF))


def to_code_units(value: str) -> str:
    """The string as JavaScript sees it: astral characters as UTF-16 surrogate pairs."""
    if value.isascii():
        return value  # the common case, and by far the cheapest check
    return _ASTRAL.sub(_surrogate_pair, value)


@functools.lru_cache(maxsize=512)
def _compiled(python_pattern: str) -> re.Pattern[str]:
    """Compile each pattern once: js_test runs for every array element."""
    return re.compile(python_pattern)


def js_test(python_pattern: str, value: str) -> bool:
    """JavaScript RegExp.prototype.test semantics for a translated pattern."""
    return _compiled(python_pattern).search(to_code_units(value)) is not None


# --------------------------------------------------------------------------------------
# Sets of UTF-16 code units, as sorted tuples of inclusive (low, high) ranges

Ranges = tuple[tuple[int, int], ...]

_MAX_UNIT = 0xFFFF  # after to_code_units every character of the subject is at most this
_DIGITS: Ranges = ((0x30, 0x39),)
_WORD: Ranges = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
# ECMAScript WhiteSpace and LineTerminator; Zs as in V8's Unicode (no U+180E).
_SPACE: Ranges = (
    (0x09, 0x0D),
    (0x20, 0x20),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
    (0xFEFF, 0xFEFF),
)
_LINE_TERMINATORS: Ranges = ((0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029))


def _normalize(ranges: list[tuple[int, int]]) -> Ranges:
    """Sort the ranges and merge those that overlap or touch."""
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return tuple(merged)


def _complement(ranges: Ranges) -> Ranges:
    """Every code unit not in the (normalized) ranges."""
    result: list[tuple[int, int]] = []
    next_low = 0
    for low, high in ranges:
        if low > next_low:
            result.append((next_low, low - 1))
        next_low = high + 1
    if next_low <= _MAX_UNIT:
        result.append((next_low, _MAX_UNIT))
    return tuple(result)


_CLASS_ESCAPES: dict[str, Ranges] = {
    "d": _DIGITS,
    "D": _complement(_DIGITS),
    "w": _WORD,
    "W": _complement(_WORD),
    "s": _SPACE,
    "S": _complement(_SPACE),
}
_CONTROL_ESCAPES = {"f": 0x0C, "n": 0x0A, "r": 0x0D, "t": 0x09, "v": 0x0B}
_NAMED_PYTHON_ESCAPES = {0x09: r"\t", 0x0A: r"\n", 0x0D: r"\r"}


def _python_char(code: int) -> str:
    """One code unit as Python pattern source, valid both inside and outside a class."""
    char = chr(code)
    if char.isascii() and (char.isalnum() or char == "_"):
        return char
    if code in _NAMED_PYTHON_ESCAPES:
        return _NAMED_PYTHON_ESCAPES[code]
    if 0x21 <= code <= 0x7E:
        return "\\" + char  # Python allows escaping any ASCII punctuation
    if code <= 0xFF:
        return f"\\x{code:02x}"
    # Also keeps lone surrogates out of the pattern text: they appear only as escapes.
    return f"\\u{code:04x}"


def _python_class_items(ranges: Ranges) -> str:
    """The inside of a Python character class for the ranges."""
    items = []
    for low, high in ranges:
        if low == high:
            items.append(_python_char(low))
        elif high == low + 1:
            items.append(_python_char(low) + _python_char(high))
        else:
            items.append(_python_char(low) + "-" + _python_char(high))
    return "".join(items)


# --------------------------------------------------------------------------------------
# The syntax tree: each node knows its Python source and its width in code units

Width = tuple[int, Optional[int]]  # max None: unbounded


@dataclass(frozen=True)
class _CharSet:
    """One code unit from a set: a literal, `.`, a class escape or a character class."""

    ranges: Ranges

    def python(self) -> str:
        if not self.ranges:
            return "(?!)"  # JavaScript `[]`: matches nothing
        if len(self.ranges) == 1 and self.ranges[0][0] == self.ranges[0][1]:
            return _python_char(self.ranges[0][0])
        complement = _complement(self.ranges)
        if not complement:
            return r"[\x00-\uffff]"
        if len(complement) < len(self.ranges):
            return "[^" + _python_class_items(complement) + "]"
        return "[" + _python_class_items(self.ranges) + "]"

    def width(self) -> Width:
        # `(?!)` is zero-width to Python; it never matches, so either width is true.
        return (1, 1) if self.ranges else (0, 0)


_WORD_CLASS = _CharSet(_WORD).python()
# JavaScript's \b and \B look only at ASCII word characters; Python's would use Unicode.
_WORD_BOUNDARY = (
    f"(?:(?<={_WORD_CLASS})(?!{_WORD_CLASS})|(?<!{_WORD_CLASS})(?={_WORD_CLASS}))"
)
_NOT_WORD_BOUNDARY = (
    f"(?:(?<={_WORD_CLASS})(?={_WORD_CLASS})|(?<!{_WORD_CLASS})(?!{_WORD_CLASS}))"
)


@dataclass(frozen=True)
class _Assertion:
    """A zero-width assertion JavaScript does not let be quantified: ^ $ \\b \\B."""

    source: str
    position: int = field(default=-1, compare=False)  # in the pattern, for the lints

    def python(self) -> str:
        return self.source

    def width(self) -> Width:
        return (0, 0)


@dataclass(frozen=True)
class _Sequence:
    """Terms matched one after another (an Alternative in the ECMAScript grammar)."""

    items: tuple[Node, ...]

    def python(self) -> str:
        return "".join(item.python() for item in self.items)

    def width(self) -> Width:
        low: int = 0
        high: Optional[int] = 0
        for item in self.items:
            item_low, item_high = item.width()
            low += item_low
            high = None if high is None or item_high is None else high + item_high
        return (low, high)


@dataclass(frozen=True)
class _Alternation:
    """Two or more alternatives separated by `|`."""

    alternatives: tuple[_Sequence, ...]

    def python(self) -> str:
        return "|".join(alternative.python() for alternative in self.alternatives)

    def width(self) -> Width:
        widths = [alternative.width() for alternative in self.alternatives]
        lows = [low for low, _ in widths]
        highs = [high for _, high in widths if high is not None]
        return (min(lows), max(highs) if len(highs) == len(widths) else None)


_GROUP_OPENERS = {
    "capture": "(",
    "group": "(?:",
    "lookahead": "(?=",
    "negative lookahead": "(?!",
    "lookbehind": "(?<=",
    "negative lookbehind": "(?<!",
}
_LOOKBEHINDS = ("lookbehind", "negative lookbehind")
_PYTHON_GROUP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class _Group:
    """Parentheses: a capturing, non-capturing or lookaround group."""

    kind: str
    body: Union[_Sequence, _Alternation]
    name: Optional[str] = None

    def python(self) -> str:
        if self.kind in _LOOKBEHINDS and isinstance(self.body, _Alternation):
            return self._split_lookbehind(self.body)
        if self.name is not None and _PYTHON_GROUP_NAME.fullmatch(self.name):
            return f"(?P<{self.name}>{self.body.python()})"
        # A name Python rejects (with `$`) becomes a plain group: numbering stays the
        # same, and names cannot matter as backreferences are refused.
        return _GROUP_OPENERS[self.kind] + self.body.python() + ")"

    def _split_lookbehind(self, body: _Alternation) -> str:
        # Python wants one fixed width per lookbehind, JavaScript allows `(?<=a|bc)`:
        # look behind for each alternative (any must match, or for negative: none).
        opener = _GROUP_OPENERS[self.kind]
        parts = [
            opener + alternative.python() + ")" for alternative in body.alternatives
        ]
        joiner = "|" if self.kind == "lookbehind" else ""
        return "(?:" + joiner.join(parts) + ")"

    def width(self) -> Width:
        if self.kind in ("capture", "group"):
            return self.body.width()
        return (0, 0)  # lookarounds consume nothing


@dataclass(frozen=True)
class _Repeat:
    """A quantified atom: * + ? {n} {n,} {n,m}, optionally lazy."""

    atom: Node
    minimum: int
    maximum: Optional[int]
    lazy: bool
    # where the atom starts and the quantifier ends, in the pattern, for the lints
    span: tuple[int, int] = field(default=(-1, -1), compare=False)

    def python(self) -> str:
        # Every atom the parser lets be quantified is already one Python atom (a
        # character, a class or a parenthesized group): no extra parentheses needed.
        return self.atom.python() + self._quantifier() + ("?" if self.lazy else "")

    def _quantifier(self) -> str:
        if (self.minimum, self.maximum) == (0, None):
            return "*"
        if (self.minimum, self.maximum) == (1, None):
            return "+"
        if (self.minimum, self.maximum) == (0, 1):
            return "?"
        if self.maximum is None:
            return f"{{{self.minimum},}}"
        if self.minimum == self.maximum:
            return f"{{{self.minimum}}}"
        return f"{{{self.minimum},{self.maximum}}}"

    def width(self) -> Width:
        atom_low, atom_high = self.atom.width()
        if atom_high == 0 or self.maximum == 0:
            return (atom_low * self.minimum, 0)
        if atom_high is None or self.maximum is None:
            return (atom_low * self.minimum, None)
        return (atom_low * self.minimum, atom_high * self.maximum)


Node = Union[_CharSet, _Assertion, _Sequence, _Alternation, _Group, _Repeat]


# --------------------------------------------------------------------------------------
# The parser

# V8 clamps quantifier bounds to this ("kInfinity"). As a maximum V8 reads it as
# unbounded; keeping the number is the same for any string V8 can hold (at most 2**29
# code units), and Python accepts it (its own limit is 2**32 - 2), while larger numbers
# would overflow Python.
_QUANTIFIER_INFINITY = 2**31 - 1
# Sets, not strings: `"" in "0123"` is true, and peek() returns "" past the end.
_DECIMAL_DIGITS = frozenset("0123456789")
_OCTAL_DIGITS = frozenset("01234567")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_INTERVAL = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")
_DIGIT_RUN = re.compile("[0-9]+")
_BACKREFERENCE_REASON = (
    "JavaScript lets a backreference to a group that did not participate match the "
    "empty string, where Python fails the match"
)
_JS_GROUP_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def _scan_captures(units: str) -> tuple[int, bool]:
    """Count capturing groups and see whether any is named, like V8's ScanForCaptures.

    JavaScript decides whether `\\12` is a backreference by the total number of groups,
    even those that open later, and whether `\\k` is an escape by whether any is named.
    """
    count, has_named = 0, False
    index = 0
    while index < len(units):
        char = units[index]
        index += 1
        if char == "\\":
            index += 1
        elif char == "[":
            while index < len(units):
                inner = units[index]
                index += 1
                if inner == "\\":
                    index += 1
                elif inner == "]":
                    break
        elif char == "(":
            opener = units[index : index + 3]
            if opener.startswith("?<") and opener not in ("?<=", "?<!"):
                has_named = True
            elif opener.startswith("?"):
                continue  # (?: (?= (?! (?<= (?<! do not capture
            count += 1
    return count, has_named


class _Parser:
    """Recursive descent over the code units of one JavaScript pattern (Annex B)."""

    def __init__(self, units: str):
        self.units = units
        self.pos = 0
        self.capture_count, self.has_named_groups = _scan_captures(units)
        self.group_names: set[str] = set()
        self.named_references: list[tuple[str, int]] = []
        self.has_unsupported_names = False
        # Refusals are collected, not raised at once: a SyntaxError further on must
        # win, so that the error names what JavaScript itself would complain about.
        self.refusals: list[UnsupportedRegex] = []

    # -- helpers

    def peek(self, offset: int = 0) -> str:
        """The code unit `offset` after the current one, or "" past the end."""
        return self.units[self.pos + offset : self.pos + offset + 1]

    def syntax_error(self, what: str, position: int, reason: str) -> UnsupportedRegex:
        """The error for a pattern that JavaScript rejects with a SyntaxError."""
        return UnsupportedRegex(f"invalid syntax: {what}", position, reason)

    def refuse(self, construct: str, position: int, reason: str) -> None:
        """Note a valid JavaScript construct that cannot be translated exactly."""
        self.refusals.append(UnsupportedRegex(construct, position, reason))

    # -- structure

    def parse(self) -> Node:
        """The whole pattern; raises for syntax errors first, then for refusals."""
        node = self.disjunction()
        if self.pos < len(self.units):  # disjunction() stops only at the end or at `)`
            raise self.syntax_error(
                "unmatched ')'", self.pos, "this ')' closes no group"
            )
        for name, position in self.named_references:
            # A refused (non-ASCII or escaped) name may be the one referenced.
            if name not in self.group_names and not self.has_unsupported_names:
                raise self.syntax_error(
                    "invalid named capture referenced",
                    position,
                    f"no group is named {name!r}",
                )
        if self.refusals:
            raise self.refusals[0]
        return node

    def disjunction(self) -> Union[_Sequence, _Alternation]:
        """Alternatives separated by `|`, up to the end or a `)`."""
        alternatives = [self.alternative()]
        while self.peek() == "|":
            self.pos += 1
            alternatives.append(self.alternative())
        if len(alternatives) == 1:
            return alternatives[0]
        return _Alternation(tuple(alternatives))

    def alternative(self) -> _Sequence:
        """Terms up to `|`, `)` or the end."""
        items = []
        while self.pos < len(self.units) and self.peek() not in ("|", ")"):
            items.append(self.term())
        return _Sequence(tuple(items))

    def term(self) -> Node:
        """An assertion, or an atom with an optional quantifier."""
        start = self.pos
        char = self.peek()
        if char == "^":
            self.pos += 1
            return _Assertion(r"\A", start)  # no multiline flag: start of input only
        if char == "$":
            self.pos += 1
            # End of input only. Python's `$` would also match before a final "\n".
            return _Assertion(r"\Z", start)
        if char == "\\" and self.peek(1) == "b":
            self.pos += 2
            return _Assertion(_WORD_BOUNDARY)
        if char == "\\" and self.peek(1) == "B":
            self.pos += 2
            return _Assertion(_NOT_WORD_BOUNDARY)
        if char == "(":
            group = self.group()
            if group.kind not in _LOOKBEHINDS:
                return self.quantified(group, start)  # Annex B: lookaheads too
            if self.at_quantifier():
                raise self.syntax_error(
                    "invalid quantifier", self.pos, "a lookbehind cannot be quantified"
                )
            return group
        if self.at_quantifier():
            raise self.syntax_error(
                "nothing to repeat", start, f"{char!r} follows nothing it can repeat"
            )
        return self.quantified(self.atom(), start)

    def at_quantifier(self) -> bool:
        """Whether a quantifier starts at the current code unit."""
        char = self.peek()
        return char in ("*", "+", "?") or (char == "{" and self.interval() is not None)

    def quantified(self, atom: Node, atom_start: int) -> Node:
        """The atom (written from atom_start) with the quantifier that follows it, if any."""
        start = self.pos
        char = self.peek()
        bounds = {"*": (0, None), "+": (1, None), "?": (0, 1)}.get(char)
        if bounds is not None:
            self.pos += 1
        elif char == "{" and (interval := self.interval()) is not None:
            bounds, self.pos = interval[:2], interval[2]
        else:
            return atom  # also for a `{` that starts no quantifier: Annex B literal
        minimum, maximum = bounds
        if maximum is not None and minimum > maximum:
            raise self.syntax_error(
                "numbers out of order in {} quantifier",
                start,
                f"the minimum {minimum} is larger than the maximum {maximum}",
            )
        lazy = self.peek() == "?"
        if lazy:
            self.pos += 1
        return _Repeat(atom, minimum, maximum, lazy, (atom_start, self.pos))

    def interval(self) -> Optional[tuple[int, Optional[int], int]]:
        """(min, max, end) when `{n}`, `{n,}` or `{n,m}` starts here, else None."""
        match = _INTERVAL.match(self.units, self.pos)
        if match is None:
            return None
        minimum = min(int(match.group(1)), _QUANTIFIER_INFINITY)
        if match.group(2) is None:
            maximum: Optional[int] = minimum
        elif match.group(3) == "":
            maximum = None
        else:
            maximum = min(int(match.group(3)), _QUANTIFIER_INFINITY)
        return minimum, maximum, match.end()

    def group(self) -> _Group:
        """A group, lookahead or lookbehind; the current code unit is `(`."""
        start = self.pos
        self.pos += 1
        kind, name = "capture", None
        if self.peek() == "?":
            kind, name = self.group_prefix(start)
        body = self.disjunction()
        if self.peek() != ")":
            raise self.syntax_error(
                "unterminated group", start, "this '(' is never closed"
            )
        self.pos += 1
        if kind in _LOOKBEHINDS:
            self.check_lookbehind_width(body, start)
        return _Group(kind, body, name)

    def group_prefix(self, start: int) -> tuple[str, Optional[str]]:
        """The kind (and name) after `(?`."""
        prefixes = {
            "?:": "group",
            "?=": "lookahead",
            "?!": "negative lookahead",
            "?<=": "lookbehind",
            "?<!": "negative lookbehind",
        }
        for prefix, kind in prefixes.items():
            if self.units.startswith(prefix, self.pos):
                self.pos += len(prefix)
                return kind, None
        if self.units.startswith("?<", self.pos):
            self.pos += 2
            name = self.group_name(start)
            if name in self.group_names:
                raise self.syntax_error(
                    "duplicate capture group name", start, f"{name!r} names two groups"
                )
            self.group_names.add(name)
            return "capture", name
        # This is also where inline flags like `(?i)` and Python's `(?P<name>` end up.
        raise self.syntax_error(
            "invalid group",
            start,
            "'(?' must be followed by ':', '=', '!', '<=', '<!' or '<'",
        )

    def group_name(self, start: int) -> str:
        """A group name up to and including `>`; the current code unit follows `<`."""
        end = self.units.find(">", self.pos)
        name = self.units[self.pos : end] if end != -1 else ""
        if end == -1 or not name:
            raise self.syntax_error(
                "invalid capture group name", start, "the name must end with '>'"
            )
        self.pos = end + 1
        if _JS_GROUP_NAME.fullmatch(name):
            return name
        if not name.isascii() or "\\" in name:
            # Non-ASCII names and `\u` escapes follow Unicode ID_Start/ID_Continue,
            # which the stdlib cannot check exactly: refuse rather than guess.
            self.has_unsupported_names = True
            self.refuse(
                "unsupported group name",
                start,
                "only ASCII group names ([A-Za-z_$][A-Za-z0-9_$]*) are translated",
            )
            return name
        raise self.syntax_error(
            "invalid capture group name", start, f"{name!r} is not an identifier"
        )

    def check_lookbehind_width(
        self, body: Union[_Sequence, _Alternation], start: int
    ) -> None:
        """Refuse a lookbehind Python cannot run: alternatives need fixed widths."""
        alternatives = body.alternatives if isinstance(body, _Alternation) else (body,)
        for alternative in alternatives:
            low, high = alternative.width()
            if low != high:
                self.refuse(
                    "variable-length lookbehind",
                    start,
                    "Python needs a fixed width for each alternative of a lookbehind",
                )
                return

    # -- atoms

    def atom(self) -> _CharSet:
        """`.`, a character class, an escape or a literal code unit."""
        char = self.peek()
        if char == ".":
            self.pos += 1
            return _CharSet(_complement(_LINE_TERMINATORS))  # no dotAll flag
        if char == "[":
            return self.character_class()
        if char == "\\":
            return self.atom_escape()
        # Annex B: `]`, `}` and a `{` that starts no quantifier are literal characters.
        self.pos += 1
        return _CharSet(((ord(char), ord(char)),))

    def atom_escape(self) -> _CharSet:
        """An escape outside a class; the current code unit is the backslash."""
        start = self.pos
        char = self.peek(1)
        if char == "":
            raise self.syntax_error(
                "\\ at end of pattern", start, "nothing follows '\\'"
            )
        if char in _CLASS_ESCAPES:
            self.pos += 2
            return _CharSet(_CLASS_ESCAPES[char])
        if char in _DECIMAL_DIGITS and char != "0":
            run = _DIGIT_RUN.match(self.units, self.pos + 1)
            assert run is not None  # char, a digit, starts it
            digits = run.group()
            if int(digits) <= self.capture_count:
                self.pos += 1 + len(digits)
                self.refuse("backreference", start, _BACKREFERENCE_REASON)
                return _CharSet(())  # never emitted: the refusal is raised
            # Not a group number: Annex B reads it as a legacy octal or identity escape.
        if char == "k" and self.has_named_groups:
            self.named_reference()
            return _CharSet(())  # never emitted: the refusal is raised
        code = self.character_escape(in_class=False)
        return _CharSet(((code, code),))

    def named_reference(self) -> None:
        """`\\k<name>` in a pattern with named groups: a backreference, so refused."""
        start = self.pos
        self.pos += 2
        if self.peek() != "<":
            raise self.syntax_error(
                "invalid named reference", start, "'\\k' must be followed by '<name>'"
            )
        self.pos += 1
        name = self.group_name(start)
        self.named_references.append((name, start))
        self.refuse("backreference", start, _BACKREFERENCE_REASON)

    def character_escape(self, in_class: bool) -> int:
        """The code unit of a single-character escape; the current code unit is `\\`."""
        char = self.peek(1)
        if char in _CONTROL_ESCAPES:
            self.pos += 2
            return _CONTROL_ESCAPES[char]
        if char == "c":
            letter = self.peek(2)
            # Annex B also takes digits and `_` as control letters, only in a class.
            if letter in _ASCII_LETTERS or (
                in_class and (letter in _DECIMAL_DIGITS or letter == "_")
            ):
                self.pos += 3
                return ord(letter) % 32
            # Annex B: the backslash stands for itself, and `c` is read next.
            self.pos += 1
            return ord("\\")
        if char == "0" and self.peek(2) not in _DECIMAL_DIGITS:
            self.pos += 2
            return 0
        if char in _OCTAL_DIGITS:
            self.pos += 1
            return self.legacy_octal()
        if char == "x":
            return self.hex_escape(2)
        if char == "u":
            return self.hex_escape(4)
        if char == "k" and self.has_named_groups:  # only reachable inside a class
            raise self.syntax_error(
                "invalid escape",
                self.pos,
                "'\\k' in a class is invalid once groups are named",
            )
        # Annex B identity escape: any other character, even a letter, is itself.
        self.pos += 2
        return ord(char)

    def legacy_octal(self) -> int:
        """Annex B octal: up to three octal digits, value below 256, as V8 reads it."""
        value = int(self.peek())
        self.pos += 1
        if self.peek() in _OCTAL_DIGITS:
            value = value * 8 + int(self.peek())
            self.pos += 1
            if value < 32 and self.peek() in _OCTAL_DIGITS:
                value = value * 8 + int(self.peek())
                self.pos += 1
        return value

    def hex_escape(self, length: int) -> int:
        r"""`\xHH` or `\uHHHH`; without enough hex digits, an identity escape."""
        digits = self.units[self.pos + 2 : self.pos + 2 + length]
        if len(digits) == length and all(digit in _HEX_DIGITS for digit in digits):
            self.pos += 2 + length
            return int(digits, 16)
        letter = self.peek(1)
        self.pos += 2
        return ord(letter)

    def character_class(self) -> _CharSet:
        """`[...]` or `[^...]`; the current code unit is `[`."""
        start = self.pos
        self.pos += 1
        negated = self.peek() == "^"
        if negated:
            self.pos += 1
        ranges: list[tuple[int, int]] = []
        while self.peek() != "]":
            if self.peek() == "":
                raise self.syntax_error(
                    "unterminated character class", start, "this '[' is never closed"
                )
            atom_start = self.pos
            first = self.class_atom()
            if self.peek() == "-" and self.peek(1) not in ("", "]"):
                self.pos += 1
                second = self.class_atom()
                ranges.extend(self.class_range(first, second, atom_start))
            else:
                ranges.extend(_class_members(first))
        self.pos += 1
        result = _normalize(ranges)
        return _CharSet(_complement(result) if negated else result)

    def class_range(
        self, first: Union[int, Ranges], second: Union[int, Ranges], start: int
    ) -> list[tuple[int, int]]:
        """The code units of `first-second` inside a class."""
        if not isinstance(first, int) or not isinstance(second, int):
            # Annex B: a class escape like \d on either side makes the `-` a literal.
            return _class_members(first) + [(0x2D, 0x2D)] + _class_members(second)
        if first > second:
            raise self.syntax_error(
                "range out of order in character class",
                start,
                f"U+{first:04X} comes after U+{second:04X}",
            )
        return [(first, second)]

    def class_atom(self) -> Union[int, Ranges]:
        """One class member: a code unit, or the set of a class escape like \\d."""
        char = self.peek()
        if char != "\\":
            self.pos += 1
            return ord(char)
        escaped = self.peek(1)
        if escaped == "":
            raise self.syntax_error(
                "\\ at end of pattern", self.pos, "nothing follows '\\'"
            )
        if escaped in _CLASS_ESCAPES:
            self.pos += 2
            return _CLASS_ESCAPES[escaped]
        if escaped == "b":
            self.pos += 2
            return 0x08  # backspace, not a word boundary, inside a class
        # In a class, digits are never backreferences: \1 is octal, \8 is "8".
        return self.character_escape(in_class=True)


def _class_members(atom: Union[int, Ranges]) -> list[tuple[int, int]]:
    """The ranges of one class atom."""
    if isinstance(atom, int):
        return [(atom, atom)]
    return list(atom)


def parse_tree(source: str) -> Node:
    """The syntax tree of a pattern, for the lints (compiler.regex_facts); raises
    UnsupportedRegex as translate does. Positions index the pattern's code units."""
    try:
        return _Parser(to_code_units(source)).parse()
    except RecursionError:
        raise UnsupportedRegex(
            "nesting too deep", 0, "groups nest too deeply for this recursive parser"
        ) from None


def translate(source: str) -> str:
    """Python `re` pattern source that a test (a search) answers as JavaScript's
    `new RegExp(source).test` does, for every string: see for_search."""
    units = to_code_units(source)  # JavaScript reads the pattern as code units too
    try:
        python_pattern = for_search(_Parser(units).parse()).python()
    except RecursionError:
        raise UnsupportedRegex(
            "nesting too deep", 0, "groups nest too deeply for this recursive parser"
        ) from None
    try:
        _compiled(python_pattern)
    except (re.error, OverflowError, RecursionError, ValueError) as error:
        # Not expected to happen; refuse rather than fail in the generated code.
        raise UnsupportedRegex(
            "unsupported by Python re",
            0,
            f"Python's re rejects the translation: {error}",
        ) from None
    return python_pattern


def for_search(tree: Node) -> Node:
    """The tree without the repeats at the ends of each top-level alternative: `.*add.*`
    is searched as `add`, `\\w+_added` as `\\w_added`, `(a|b)*c` as `c`.

    A search answers alike: where `A{m,n} R` matches, the last m turns of A followed by
    R match too (starting later), and the converse is a match with m turns; likewise
    `L A{m,n}` and `L A{m}`. Lookbehinds and `\\b` look at the input, not at where the
    match began, and a test reads no group. The repeats dropped are what made a search
    slow: a leading `\\w+` is tried from every position and gives characters back at
    each, quadratic in the action's length (a 10,000-character action took 0.1 s; by
    that square law one of 16 MiB would take days); without them it is linear.
    """
    if isinstance(tree, _Alternation):
        return _Alternation(tuple(_ends_trimmed(part) for part in tree.alternatives))
    if isinstance(tree, _Sequence):
        return _ends_trimmed(tree)
    return tree


def _ends_trimmed(sequence: _Sequence) -> _Sequence:
    items = list(sequence.items)
    while items and _trimmable(items[0]):
        fewest = _fewest_turns(items.pop(0))
        if fewest is not None:
            items.insert(0, fewest)
            break
    while items and _trimmable(items[-1]):
        fewest = _fewest_turns(items.pop())
        if fewest is not None:
            items.append(fewest)
            break
    return _Sequence(tuple(items))


def _trimmable(node: Node) -> bool:
    return isinstance(node, _Repeat) and node.maximum != node.minimum


def _fewest_turns(node: Node) -> Optional[Node]:
    """A repeat with its fewest turns only; None for none."""
    assert isinstance(node, _Repeat)
    if node.minimum == 0:
        return None
    if node.minimum == 1:
        return node.atom
    return _Repeat(node.atom, node.minimum, node.minimum, False, node.span)


# --------------------------------------------------------------------------------------
# What a translated pattern must be given for a subject with astral characters

CHARACTERS = "characters"  # the Python string as it is
ANY_PAIR = "any pair"  # each astral character as one and the same surrogate pair
CODE_UNITS = "code units"  # each astral character as its own surrogate pair
_HIGH_SURROGATES = (0xD800, 0xDBFF)
_LOW_SURROGATES = (0xDC00, 0xDFFF)


def subject_form(source: str) -> str:
    """The cheapest form of a subject that gives JavaScript's answer for this pattern.

    CHARACTERS when nothing can consume a surrogate and nothing looks at neighbours
    (no \\b, \\B or lookaround): a match then only covers BMP characters, which both
    forms share, and an empty match needs no particular position. ANY_PAIR when every
    character set holds all or none of the high surrogates and all or none of the low
    ones: which pair stands for an astral character cannot change an answer. Else
    CODE_UNITS. The source must translate (see translate()).
    """
    nodes = list(_walk(parse_tree(source)))
    sets = [node.ranges for node in nodes if isinstance(node, _CharSet)]
    looks_around = any(
        (isinstance(node, _Assertion) and node.source not in (r"\A", r"\Z"))
        or (isinstance(node, _Group) and node.kind not in ("capture", "group"))
        for node in nodes
    )
    if not looks_around and not any(
        _overlap(ranges, (0xD800, 0xDFFF)) for ranges in sets
    ):
        return CHARACTERS
    if all(
        _overlap(ranges, half) in (0, half[1] - half[0] + 1)
        for ranges in sets
        for half in (_HIGH_SURROGATES, _LOW_SURROGATES)
    ):
        return ANY_PAIR
    return CODE_UNITS


def _walk(node: Node) -> Iterator[Node]:
    """node and every node below it, parents first."""
    yield node
    for child in _children(node):
        yield from _walk(child)


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, _Sequence):
        return node.items
    if isinstance(node, _Alternation):
        return node.alternatives
    if isinstance(node, _Group):
        return (node.body,)
    if isinstance(node, _Repeat):
        return (node.atom,)
    return ()


def _overlap(ranges: Ranges, span: tuple[int, int]) -> int:
    """How many code units of span (inclusive) the ranges hold."""
    low, high = span
    return sum(
        max(0, min(high, range_high) - max(low, range_low) + 1)
        for range_low, range_high in ranges
    )
