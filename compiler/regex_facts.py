"""Regex facts: what a matcher's syntax tree says about the strings it can match.

Part of validate, for the matcher lints. Two small analyses over compiler.jsregex's
tree (its own node classes, read here and nowhere else):

- whether an anchor can ever hold where it stands: `^` needs nothing consumed before
  it, `$` nothing after it. A forward pass tracks whether the position may still be
  the start of the input, a backward pass whether it may be the end, over every path
  of alternations, groups, repeats and lookarounds. `a^b`, `$a` and `/^add$/` match no
  string at all.
- a sample of the strings the matcher accepts, one or two per choice, so the lint can
  look at what the matcher takes for an addition (`^(add|remove)_member$` takes
  "remove_member").
- repeats inside repeats (`(a+)+`, `(\\w*)*`): on an action they fail to match, a
  backtracking engine (Python's re, and JavaScript's) tries every way of sharing the
  characters between the two, which is exponential in the action's length.
- repeats that a search runs again from every start (`x\\w+_added`): in a pattern not
  anchored at `^`, an unbounded repeat that consumes the characters the pattern starts
  with runs on from each of them, quadratic in the action's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice, product
from typing import Callable, Iterator, Optional

from .jsregex import (
    Node,
    _Alternation,
    _Assertion,
    _CharSet,
    _children,
    _Group,
    _Repeat,
    _Sequence,
    _walk,
)

START, LATER = "start", "later"  # forward: may the position be the input's start?
END, EARLIER = "end", "earlier"  # backward: may it be the input's end?
States = frozenset[str]
ANYWHERE = frozenset({START, LATER})
ANYWHERE_BACK = frozenset({END, EARLIER})
LOOKAHEADS = ("lookahead",)
LOOKBEHINDS = ("lookbehind",)


@dataclass(frozen=True)
class Anchor:
    """An anchor that can never hold: its symbol and its position in the pattern."""

    symbol: str
    position: int


def dead_anchors(tree: Node) -> tuple[bool, list[Anchor]]:
    """(whether the pattern can match no string, the anchors that can never hold)."""
    forward: list[Anchor] = []
    backward: list[Anchor] = []
    dead_forward = not _forward(tree, ANYWHERE, forward)
    dead_backward = not _backward(tree, ANYWHERE_BACK, backward)
    culprits = (forward if dead_forward else []) + (backward if dead_backward else [])
    return dead_forward or dead_backward, sorted(culprits, key=lambda a: a.position)


def alternatives(tree: Node) -> tuple[Node, ...]:
    """The top-level alternatives of a pattern (one when there is no `|`)."""
    return tree.alternatives if isinstance(tree, _Alternation) else (tree,)


def _forward(node: Node, states: States, culprits: list[Anchor]) -> States:
    """The states after node, given the states before it (empty: it cannot match)."""
    if not states:
        return states
    if isinstance(node, _CharSet):
        return frozenset({LATER}) if node.ranges else frozenset()
    if isinstance(node, _Assertion):
        if node.source == r"\A":
            if START not in states:
                culprits.append(Anchor("^", node.position))
            return states & {START}
        return states
    if isinstance(node, _Sequence):
        for item in node.items:
            states = _forward(item, states, culprits)
        return states
    if isinstance(node, _Alternation):
        return frozenset().union(
            *(_forward(a, states, culprits) for a in node.alternatives)
        )
    if isinstance(node, _Group):
        return _forward_group(node, states, culprits)
    assert isinstance(node, _Repeat)
    return _repeat(lambda s: _forward(node.atom, s, culprits), node, states)


def _forward_group(node: _Group, states: States, culprits: list[Anchor]) -> States:
    if node.kind in ("capture", "group"):
        return _forward(node.body, states, culprits)
    if node.kind in LOOKAHEADS:  # must match from here; consumes nothing
        return states if _forward(node.body, states, culprits) else frozenset()
    if node.kind in LOOKBEHINDS:  # must match ending here, from anywhere before
        return states & _forward(node.body, ANYWHERE, culprits)
    return states  # a negative lookaround constrains nothing we track


def _backward(node: Node, states: States, culprits: list[Anchor]) -> States:
    """The states before node, given the states after it (mirror of _forward)."""
    if not states:
        return states
    if isinstance(node, _CharSet):
        return frozenset({EARLIER}) if node.ranges else frozenset()
    if isinstance(node, _Assertion):
        if node.source == r"\Z":
            if END not in states:
                culprits.append(Anchor("$", node.position))
            return states & {END}
        return states
    if isinstance(node, _Sequence):
        for item in reversed(node.items):
            states = _backward(item, states, culprits)
        return states
    if isinstance(node, _Alternation):
        return frozenset().union(
            *(_backward(a, states, culprits) for a in node.alternatives)
        )
    if isinstance(node, _Group):
        if node.kind in ("capture", "group"):
            return _backward(node.body, states, culprits)
        if node.kind in LOOKAHEADS:  # matches from here to anywhere after
            return states & _backward(node.body, ANYWHERE_BACK, culprits)
        if node.kind in LOOKBEHINDS:
            return states if _backward(node.body, states, culprits) else frozenset()
        return states
    assert isinstance(node, _Repeat)
    return _repeat(lambda s: _backward(node.atom, s, culprits), node, states)


def _repeat(step: Callable[[States], States], node: _Repeat, states: States) -> States:
    """States after `minimum` to `maximum` steps; two states, so a few steps settle it."""
    for _ in range(min(node.minimum, 4)):
        states = step(states)
    if node.maximum is not None and node.maximum <= node.minimum:
        return states
    reached = states
    for _ in range(4):
        reached = reached | step(reached)
    return reached


# --- samples of accepted strings ---------------------------------------------------------

_PREFERRED = "abcdefghijklmnopqrstuvwxyz_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-"


def samples(tree: Node, limit: int = 200) -> list[str]:
    """Up to `limit` strings built along the pattern's choices (unchecked: lookarounds
    and anchors are ignored, so the caller tests each with the real matcher)."""
    return list(islice(dict.fromkeys(_samples(tree, limit)), limit))


def _samples(node: Node, limit: int) -> Iterator[str]:
    if isinstance(node, _CharSet):
        yield from _chars(node)
    elif isinstance(node, _Assertion):
        yield ""
    elif isinstance(node, _Sequence):
        parts = [list(islice(_samples(item, limit), limit)) for item in node.items]
        for combination in islice(product(*parts), limit):
            yield "".join(combination)
    elif isinstance(node, _Alternation):
        for alternative in node.alternatives:
            yield from islice(_samples(alternative, limit), limit)
    elif isinstance(node, _Group):
        if node.kind in ("capture", "group"):
            yield from _samples(node.body, limit)
        else:
            yield ""
    else:
        assert isinstance(node, _Repeat)
        atoms = list(islice(_samples(node.atom, limit), 4))
        counts = {min(node.minimum, 3)}
        if node.maximum is None or node.maximum > node.minimum:
            counts.add(min(node.minimum, 3) + 1)
        for count in sorted(counts):
            for atom in atoms:
                yield atom * count


def _chars(node: _CharSet) -> Iterator[str]:
    """One or two characters of a set: the literal itself, or letters first."""
    if not node.ranges:
        return
    if len(node.ranges) == 1 and node.ranges[0][0] == node.ranges[0][1]:
        yield chr(node.ranges[0][0])
        return
    found = [c for c in _PREFERRED if any(lo <= ord(c) <= hi for lo, hi in node.ranges)]
    yield from found[:2] or [chr(node.ranges[0][0])]


# A repeat bounded below this many times cannot make the split explode: (a+){2} has n
# ways to share n characters, (a+)+ has 2**n.
MANY = 8


def nested_repeats(tree: Node) -> list[tuple[_Repeat, _Repeat]]:
    """(outer, inner) for each outermost repeat whose every turn may be an inner repeat
    alone, both repeating MANY times or more and consuming characters: the turns can
    then share a run of characters in exponentially many ways. `(a+)+` and
    `(\\w+\\s?)+` are such; `((ab)+c)*` is not, its turns end at each c."""
    found: list[tuple[_Repeat, _Repeat]] = []
    _find_nested(tree, found)
    return found


def _find_nested(node: Node, found: list[tuple[_Repeat, _Repeat]]) -> None:
    if isinstance(node, _Repeat) and _repeats_many(node):
        inner = next(_exposed_repeats(node.atom), None)
        if inner is not None:
            found.append((node, inner))
            return  # the outermost one says it; what it holds is rewritten with it
    for child in _children(node):
        _find_nested(child, found)


def _exposed_repeats(node: Node) -> Iterator[_Repeat]:
    """The repeats in node that it may match alone: all else on the way is optional."""
    if isinstance(node, _Repeat):
        if _repeats_many(node):
            yield node
        else:  # a? or a{1,3}: what it holds still may be all of it
            yield from _exposed_repeats(node.atom)
    elif isinstance(node, _Group):
        if node.kind in ("capture", "group"):  # a lookaround consumes nothing
            yield from _exposed_repeats(node.body)
    elif isinstance(node, _Alternation):
        for alternative in node.alternatives:
            yield from _exposed_repeats(alternative)
    elif isinstance(node, _Sequence):
        for index, item in enumerate(node.items):
            others = node.items[:index] + node.items[index + 1 :]
            if all(other.width()[0] == 0 for other in others):
                yield from _exposed_repeats(item)


def _repeats_many(node: _Repeat) -> bool:
    consumes = node.atom.width()[1] != 0
    return consumes and (node.maximum is None or node.maximum >= MANY)


def slow_searches(tree: Node) -> list[_Repeat]:
    """The unbounded repeats of alternatives not anchored at the start that consume a
    character those alternatives can start with: on an action made of it, a search
    starts at every such character and the repeat runs to the end from each. The tree
    is the one searched (jsregex.for_search: no repeats left at the ends)."""
    options = tree.alternatives if isinstance(tree, _Alternation) else (tree,)
    found: list[_Repeat] = []
    for option in options:
        first = _first_units(option)
        if first is None:  # anchored at ^: one start only
            continue
        for node in _walk(option):
            if (
                isinstance(node, _Repeat)
                and (node.maximum is None or node.maximum >= MANY)
                and _meets(_consumed_units(node.atom), first)
            ):
                found.append(node)
                break  # one per alternative says it
    return found


def _first_units(node: Node) -> Optional[list[tuple[int, int]]]:
    """The code units a match of node can start with, as ranges; None when node can
    only match at the start of the input (it begins with ^). Conservative: more units
    than exact where lookarounds or empty matches make it hard to say."""
    if isinstance(node, _Assertion):
        return None if node.source == r"\A" else []
    if isinstance(node, _CharSet):
        return list(node.ranges)
    if isinstance(node, _Group):
        if node.kind in ("capture", "group"):
            return _first_units(node.body)
        return []  # a lookaround consumes nothing: what follows it starts the match
    if isinstance(node, _Repeat):
        return _first_units(node.atom)
    if isinstance(node, _Alternation):
        units: list[tuple[int, int]] = []
        for alternative in node.alternatives:
            first = _first_units(alternative)
            if first is None:
                continue  # that alternative matches at the start only
            units += first
        return units
    units = []
    for item in node.items:  # a _Sequence: up to the first item that must consume
        first = _first_units(item)
        if first is None:
            return None if not units else units
        units += first
        if item.width()[0] > 0:
            break
    return units


def _consumed_units(node: Node) -> list[tuple[int, int]]:
    return [span for inner in _walk(node) if isinstance(inner, _CharSet)
            for span in inner.ranges]  # fmt: skip


def _meets(ranges: list[tuple[int, int]], others: list[tuple[int, int]]) -> bool:
    return any(low <= other_high and other_low <= high
               for low, high in ranges for other_low, other_high in others)  # fmt: skip
