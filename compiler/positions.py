"""Positions: where a JSON pointer's node sits in a manifest's text (line and column).

A small tokenizer over text that `json.loads` already accepted: it builds a tree of
spans (the key and the value of every node), and maps a pointer, and a character range
inside a string value (a template's mustache, a matcher's anchor), to file positions
through the string's escapes. Duplicate keys resolve to the last one, as `json.loads`
does. Lines and columns are 1-based and count code points of the decoded text (a
leading BOM is not part of it); an end is the position just after the node.

No library was used: json-source-map, the one maintained-looking candidate, returns
raw unescaped keys (a key with an escape, a "/" or a "~" gets a wrong pointer), rejects
a BOM and has had no release since 2022. tests/test_positions.py checks this module
against it where it is right, and against json.loads everywhere.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from typing import Optional, Union

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SCALAR = re.compile(r"[-+0-9.eE]+|true|false|null")


@dataclass(frozen=True)
class Span:
    """[start, end) offsets in the text."""

    start: int
    end: int


@dataclass(frozen=True)
class Node:
    """One JSON value as written: its span, its key's span, and its children."""

    value: Span
    key: Optional[Span] = None
    children: Union[dict[str, Node], tuple[Node, ...], None] = None


@dataclass(frozen=True)
class Place:
    """1-based line and column of a start, and of the position just after the end."""

    line: int
    column: int
    end_line: int
    end_column: int


class SourceMap:
    """The nodes of one JSON text, and line/column arithmetic over it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.root = parse_tree(text)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def node(self, pointer: str) -> Optional[Node]:
        """The node a JSON pointer names, or None when the text has no such node."""
        node = self.root
        if node is None:
            return None
        for token in pointer_tokens(pointer):
            children = node.children
            if isinstance(children, dict):
                node = children.get(token)
            elif isinstance(children, tuple) and re.fullmatch(r"0|[1-9]\d*", token):
                index = int(token)
                node = children[index] if index < len(children) else None
            else:
                node = None
            if node is None:
                return None
        return node

    def span(
        self,
        pointer: str,
        at_key: bool = False,
        within: Optional[tuple[int, int]] = None,
    ) -> Optional[Span]:
        """The span a diagnostic about this node underlines.

        at_key: the property's key (for an unknown or a missing property). A container
        value is marked by its key too, or by its opening bracket: underlining a whole
        object says less than naming where it starts. within: a range of characters
        inside a string value, mapped through its escapes.
        """
        node = self.node(pointer)
        if node is None:
            return None
        if within is not None and self.text[node.value.start] == '"':
            offsets = string_offsets(self.text, node.value.start)
            first = min(max(within[0], 0), len(offsets) - 1)
            last = min(max(within[1], within[0]), len(offsets) - 1)
            return Span(offsets[first], max(offsets[last], offsets[first] + 1))
        container = self.text[node.value.start] in "{["
        if (at_key or container) and node.key is not None:
            return node.key
        if container:
            return Span(node.value.start, node.value.start + 1)
        return node.value

    def place(self, span: Span) -> Place:
        return Place(*self.line_column(span.start), *self.line_column(span.end))

    def line_column(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1


def pointer_tokens(pointer: str) -> list[str]:
    """The unescaped tokens of an RFC 6901 pointer ("" has none)."""
    if pointer == "":
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def parse_tree(text: str) -> Optional[Node]:
    """The tree of a text json.loads accepts; None for one it does not (or too deep)."""
    try:
        node, end = _value(text, _skip(text, 0))
    except (ValueError, IndexError, RecursionError):
        return None
    return node if _skip(text, end) == len(text) else None


def _skip(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    assert match is not None  # it matches the empty string too
    return match.end()


def _value(text: str, pos: int) -> tuple[Node, int]:
    char = text[pos]
    if char == "{":
        return _object(text, pos)
    if char == "[":
        return _array(text, pos)
    match = (_STRING if char == '"' else _SCALAR).match(text, pos)
    if match is None:
        raise ValueError(f"no JSON value at {pos}")
    return Node(Span(pos, match.end())), match.end()


def _object(text: str, start: int) -> tuple[Node, int]:
    children: dict[str, Node] = {}
    pos = _skip(text, start + 1)
    if text[pos] == "}":
        return Node(Span(start, pos + 1), children=children), pos + 1
    while True:
        key = _STRING.match(text, pos)
        if key is None:
            raise ValueError(f"no key at {pos}")
        pos = _skip(text, key.end())
        if text[pos] != ":":
            raise ValueError(f"no ':' at {pos}")
        value, pos = _value(text, _skip(text, pos + 1))
        name = json.loads(key.group())
        children.pop(name, None)  # the last duplicate wins, and keeps its own order
        children[name] = Node(value.value, Span(key.start(), key.end()), value.children)
        pos = _skip(text, pos)
        if text[pos] == "}":
            return Node(Span(start, pos + 1), children=children), pos + 1
        if text[pos] != ",":
            raise ValueError(f"no ',' at {pos}")
        pos = _skip(text, pos + 1)


def _array(text: str, start: int) -> tuple[Node, int]:
    items: list[Node] = []
    pos = _skip(text, start + 1)
    if text[pos] == "]":
        return Node(Span(start, pos + 1), children=()), pos + 1
    while True:
        value, pos = _value(text, pos)
        items.append(value)
        pos = _skip(text, pos)
        if text[pos] == "]":
            return Node(Span(start, pos + 1), children=tuple(items)), pos + 1
        if text[pos] != ",":
            raise ValueError(f"no ',' at {pos}")
        pos = _skip(text, pos + 1)


_HIGH = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def string_offsets(text: str, quote: int) -> list[int]:
    """The text offset of each character of the string literal opening at `quote`,
    and last the offset of its closing quote: decoded index -> where it is written.

    `\\n` is one character written in two, `\\u00e9` in six, and an escaped surrogate
    pair (json.loads joins it into one character) in twelve.
    """
    offsets = []
    pos = quote + 1
    while text[pos] != '"':
        offsets.append(pos)
        if text[pos] != "\\":
            pos += 1
        elif text[pos + 1] != "u":
            pos += 2
        elif _HIGH.match(text, pos):
            pos += 12
        else:
            pos += 6
    offsets.append(pos)
    return offsets
