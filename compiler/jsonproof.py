"""JSON proof: show at build time that a template renders valid JSON for plain values.

A template is a sequence of literal text, holes (mustaches) and blocks. Plain values are
strings needing no escaping (in a JSON string literal) and integers or booleans (outside
one). Running a JSON pushdown automaton over every path through the template, with holes
as what plain values would be, proves that every rendering with plain values is valid
JSON. The runtime then skips parsing its output whenever all values are plain.

Conservative: anything the automaton cannot follow (a hole inside a number, a loop that
keeps nesting deeper) counts as unproven, and the runtime checks such output instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, FrozenSet, Iterable, Optional, TypeVar

from . import ir

JSON_SPACE = " \t\n\r"
LOOP_LIMIT = 8  # passes of a loop body before giving up on a fixpoint

# Modes of the automaton (what the parser expects next).
VALUE = "value"  # any value
FIRST_VALUE = "first-value"  # a value or ] (just after [)
FIRST_KEY = "first-key"  # a key or } (just after {)
KEY = "key"  # a key string (after , in an object)
COLON = "colon"
AFTER = "after"  # after a value: , ] } or the end
STRING = "string"
ESCAPE = "escape"  # after a backslash in a string
UNICODE = "unicode"  # inside \uXXXX
NUMBER = "number"
WORD = "word"  # inside true, false or null


@dataclass(frozen=True)
class State:
    """One configuration of the JSON automaton."""

    stack: tuple[str, ...]  # open containers, "{" or "["
    mode: str
    detail: str = ""  # number grammar state, word rest, \u digits left, or "key"


START = State((), VALUE)
States = FrozenSet[State]
Argument = TypeVar("Argument")


def proven_valid(template: ir.ResponseTemplate) -> bool:
    """Whether every rendering of the template with plain values is valid JSON."""
    ends = run(template.body, frozenset({START}))
    return ends is not None and all(at_end(state) for state in ends)


def run(nodes: Iterable[ir.ResponseNode], states: States) -> Optional[States]:
    """The states after the nodes, or None when some path fails."""
    for node in nodes:
        after: Optional[States]
        if isinstance(node, ir.Text):
            after = each_state(states, text, node.value)
        elif isinstance(node, ir.Output):
            after = each_state(states, hole, node.in_string)
        elif isinstance(node, ir.Each):
            after = loop(node.body, states)
            if after is not None and node.otherwise:
                other = run(node.otherwise, after)
                after = None if other is None else after | other
        elif isinstance(node, (ir.Conditional, ir.With)):  # either branch may run
            first = run(
                node.then if isinstance(node, ir.Conditional) else node.body, states
            )
            second = run(node.otherwise, states)
            after = None if first is None or second is None else first | second
        else:  # a Run is made from a proven body for the plain renderer, never proven
            raise TypeError(f"a {node.kind} node is not a template's to prove")
        if after is None:
            return None
        states = after
    return states


def loop(body: tuple[ir.ResponseNode, ...], states: States) -> Optional[States]:
    """States after zero or more passes of a loop body (a fixpoint, or None)."""
    seen = states
    frontier = states
    for _ in range(LOOP_LIMIT):
        after = run(body, frontier)
        if after is None:
            return None
        frontier = after - seen
        if not frontier:
            return seen
        seen = seen | after
    return None


def each_state(
    states: States,
    advance: Callable[[State, Argument], Optional[State]],
    argument: Argument,
) -> Optional[States]:
    """advance(state, argument) for every state; None as soon as one fails."""
    result: set[State] = set()
    for state in states:
        after = advance(state, argument)
        if after is None:
            return None
        result.add(after)
    return frozenset(result)


def hole(state: State, in_string: bool) -> Optional[State]:
    """A plain value: neutral text in a string, a complete scalar token outside."""
    if in_string:
        return state if state.mode == STRING else None
    if state.mode in (VALUE, FIRST_VALUE):
        return State(state.stack, AFTER)
    return None


def text(state: Optional[State], chars: str) -> Optional[State]:
    for ch in chars:
        if state is None:
            return None
        state = step(state, ch)
    return state


def at_end(state: State) -> bool:
    if state.stack:
        return False
    if state.mode == AFTER:
        return True
    return state.mode == NUMBER and state.detail in NUMBER_ENDS


def close_value(state: State) -> State:
    return State(state.stack, AFTER)


def step(state: State, ch: str) -> Optional[State]:
    """One character through the automaton; None when it makes the JSON invalid."""
    mode, stack = state.mode, state.stack
    if mode == STRING:
        if ch == '"':
            return State(stack, COLON) if state.detail == "key" else close_value(state)
        if ch == "\\":
            return State(stack, ESCAPE, state.detail)
        return None if ch < " " else state
    if mode == ESCAPE:
        if ch == "u":
            return State(stack, UNICODE, state.detail + "|4")
        return State(stack, STRING, state.detail) if ch in '"\\/bfnrt' else None
    if mode == UNICODE:
        kind, left = state.detail.split("|")
        if ch not in "0123456789abcdefABCDEF":
            return None
        if left == "1":
            return State(stack, STRING, kind)
        return State(stack, UNICODE, f"{kind}|{int(left) - 1}")
    if mode == NUMBER:
        after = NUMBER_STEPS.get((state.detail, digit_class(ch)))
        if after is not None:
            return State(stack, NUMBER, after)
        if state.detail not in NUMBER_ENDS:
            return None
        return step(State(stack, AFTER), ch)
    if mode == WORD:
        if ch != state.detail[0]:
            return None
        rest = state.detail[1:]
        return State(stack, WORD, rest) if rest else State(stack, AFTER)
    if ch in JSON_SPACE:
        return state
    if mode in (VALUE, FIRST_VALUE):
        if mode == FIRST_VALUE and ch == "]":
            return close_container(state, "[")
        return start_value(stack, ch)
    if mode in (FIRST_KEY, KEY):
        if mode == FIRST_KEY and ch == "}":
            return close_container(state, "{")
        return State(stack, STRING, "key") if ch == '"' else None
    if mode == COLON:
        return State(stack, VALUE) if ch == ":" else None
    if mode == AFTER:
        if ch == ",":
            if not stack:
                return None
            return State(stack, KEY) if stack[-1] == "{" else State(stack, VALUE)
        if ch in "]}":
            return close_container(state, "[" if ch == "]" else "{")
        return None
    return None


def start_value(stack: tuple[str, ...], ch: str) -> Optional[State]:
    if ch == "{":
        return State(stack + ("{",), FIRST_KEY)
    if ch == "[":
        return State(stack + ("[",), FIRST_VALUE)
    if ch == '"':
        return State(stack, STRING, "value")
    if ch in "tfn":
        return State(stack, WORD, {"t": "rue", "f": "alse", "n": "ull"}[ch])
    start = NUMBER_STEPS.get(("start", digit_class(ch)))
    return State(stack, NUMBER, start) if start else None


def close_container(state: State, opener: str) -> Optional[State]:
    if not state.stack or state.stack[-1] != opener:
        return None
    return State(state.stack[:-1], AFTER)


def digit_class(ch: str) -> str:
    if ch == "0":
        return "0"
    if ch in "123456789":
        return "1-9"
    return {"-": "-", "+": "+", ".": ".", "e": "e", "E": "e"}.get(ch, "other")


# The JSON number grammar: (state, character class) -> state.
NUMBER_STEPS = {
    ("start", "-"): "minus",
    ("start", "0"): "zero",
    ("start", "1-9"): "int",
    ("minus", "0"): "zero",
    ("minus", "1-9"): "int",
    ("int", "0"): "int",
    ("int", "1-9"): "int",
    ("zero", "."): "point",
    ("int", "."): "point",
    ("zero", "e"): "exp",
    ("int", "e"): "exp",
    ("point", "0"): "frac",
    ("point", "1-9"): "frac",
    ("frac", "0"): "frac",
    ("frac", "1-9"): "frac",
    ("frac", "e"): "exp",
    ("exp", "+"): "exp-sign",
    ("exp", "-"): "exp-sign",
    ("exp", "0"): "exp-digits",
    ("exp", "1-9"): "exp-digits",
    ("exp-sign", "0"): "exp-digits",
    ("exp-sign", "1-9"): "exp-digits",
    ("exp-digits", "0"): "exp-digits",
    ("exp-digits", "1-9"): "exp-digits",
}
NUMBER_ENDS = {"zero", "int", "frac", "exp-digits"}
