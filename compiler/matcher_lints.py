"""Matcher lints: arrayInclusion.matcher mistakes that turn syncs into their opposite.

Part of validate. The matcher decides, per request, whether the batch is added; a
matcher that matches nothing removes every batch, one that also matches a removal adds
it. The lints look at the pattern as written (a JavaScript regex literal), at what it
can match (compiler.regex_facts), and at the action values the manifest and its
example bodies show.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, Iterator, Optional

from .diagnostics import Diagnostic, error, warning
from .jsregex import UnsupportedRegex, for_search, js_test, parse_tree, to_code_units
from .load import Manifest
from .pointer_lints import MISSING, example_documents, resolve
from .regex_facts import (
    alternatives,
    dead_anchors,
    nested_repeats,
    samples,
    slow_searches,
)

WHERE = "/capabilities/syncedSegment/requestParser/arrayInclusion/matcher"

# Actions that must never count as "add": a matcher accepting one of these turns a
# removal into an addition (the upstream Tealium manifest does exactly that).
REMOVAL_WORDS = ("remove", "delete", "exit")
REMOVAL_AFFIXES = ("", "s", "d", "_member", "_members", "-member", "-members", "_user")
REMOVAL_PREFIXES = ("", "member_", "members_", "user_", "audience_")
# Words of an action name that say remove (stems) or add; "remove_member",
# "userExitedAudience", "UNSUBSCRIBE" and "opt-out" all name a removal.
REMOVAL_STEMS = ("remov", "delet", "exit", "leav", "left", "unsub", "drop", "exclu",
                 "revok", "unsync", "disabl", "deactiv", "expir", "purg", "unassign",
                 "unenrol", "detach", "unlink", "unfollow", "churn")  # fmt: skip
REMOVAL_TOKENS = frozenset({"del", "rm", "out", "off"})
ADDITION_STEMS = ("add", "join", "enter", "includ", "insert", "subscrib", "enrol",
                  "assign", "append", "upsert")  # fmt: skip
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
REGEX_LITERAL = re.compile(r"/(?P<body>.+)/(?P<flags>[dgimsuyv]*)", re.DOTALL)
FLAG_ADVICE = {
    "i": "the matcher is case-sensitive, so the fix spells each letter both ways",
    "m": "^ and $ only ever match at the start and end of the action",
    "s": 'write [\\s\\S] for "any character including a newline"',
    "u": "the matcher is read without the u flag",
    "v": "the matcher is read without the v flag",
}


def matcher_lints(
    manifest: Manifest, parser: dict[str, Any], python_pattern: str
) -> list[Diagnostic]:
    """The warnings about a matcher that translated (python_pattern is its translation)."""
    matcher = parser["arrayInclusion"]["matcher"]
    literal = regex_literal(manifest.path, matcher)
    if literal is not None:  # it can match no string either: one warning says why
        return [literal]
    problems = list(never_matches(manifest.path, matcher))
    problems += removals(manifest, parser, matcher, python_pattern)
    problems += slow_search(manifest.path, matcher)
    return problems


# --- repeats that make a search slow ---------------------------------------------------


def searched_tree(matcher: str) -> Optional[Any]:
    """The tree a search runs (jsregex.for_search: no repeats at the ends), or None
    when the matcher does not parse (it translated already, so this does not happen)."""
    try:
        return for_search(parse_tree(matcher))
    except UnsupportedRegex:
        return None


def indexes(matcher: str) -> bool:
    """Whether the tree's positions (code units) index the string: no astral character."""
    return len(to_code_units(matcher)) == len(matcher)


def written(matcher: str, span: tuple[int, int], instead: str) -> str:
    """The matcher's text at span, as written; `instead` where positions do not index it."""
    return matcher[span[0] : span[1]] if indexes(matcher) else instead


# --- repeats inside repeats: exponential time on an action that does not match --------

QUANTIFIER_AT_END = re.compile(r"(?:[*+?]|\{[0-9]+(?:,[0-9]*)?\})\??\Z")


def backtracking(file: str, matcher: str) -> list[Diagnostic]:
    """An error per repeat whose turns may share characters in exponentially many ways
    (regex_facts.nested_repeats): any sender could stall the service with one action.
    Repeats at the ends of the pattern do not count: the translation drops them
    (jsregex.for_search), so `(a+)+b` is searched as `(a+)b`."""
    tree = searched_tree(matcher)
    if tree is None:
        return []
    problems = []
    for outer, inner in nested_repeats(tree):
        outer_text = written(matcher, outer.span, "a group")
        inner_text = written(matcher, inner.span, "a repeat")
        fixed = single_repeat(matcher, outer, inner) if indexes(matcher) else None
        if fixed is not None:
            rewrite = f"write {json.dumps(fixed)}, which matches the same strings; "
        else:
            rewrite = "drop the inner or the outer repeat; "
        problems.append(
            error(
                "matcher-backtracks",
                file,
                WHERE,
                f"matcher {json.dumps(matcher)} repeats {outer_text}, and each turn "
                f"may be {inner_text} alone: on an action it does not match, Python's "
                "re (like JavaScript) tries every way of sharing the characters "
                "between the turns, which takes time exponential in the action's "
                "length, so one request with a long action could stall the service",
                rewrite + "an anchored alternation such as ^(add|add_members)$ is "
                "usually all a matcher needs",
                within=outer.span,
                **({"replacement": fixed} if fixed is not None else {}),
            )
        )
    return problems


def single_repeat(matcher: str, outer: Any, inner: Any) -> Optional[str]:
    """For `(x+)+`, `(?:x*)+`, `(x+)*`...: the matcher with one repeat, `x+` or `x*`,
    which a test() answers alike; None for any other shape (`(x{2,})+` is not `x+`)."""
    inner_text = matcher[inner.span[0] : inner.span[1]]
    quantifier = QUANTIFIER_AT_END.search(inner_text)
    body = (
        matcher[outer.span[0] : inner.span[0]],
        matcher[inner.span[1] : outer.span[1]],
    )
    if (
        quantifier is None
        or (outer.minimum, outer.maximum) not in ((0, None), (1, None))
        or (inner.minimum, inner.maximum) not in ((0, None), (1, None))
        or body[0] not in ("(", "(?:")
        or QUANTIFIER_AT_END.fullmatch(body[1][1:]) is None
        or not body[1].startswith(")")
    ):
        return None
    atom = inner_text[: quantifier.start()]
    single = atom + ("+" if outer.minimum and inner.minimum else "*")
    return matcher[: outer.span[0]] + single + matcher[outer.span[1] :]


# --- repeats a search runs again from every start: quadratic --------------------------


def slow_search(file: str, matcher: str) -> list[Diagnostic]:
    """A warning for a repeat that a search reruns from each start (regex_facts)."""
    tree = searched_tree(matcher)
    if tree is None:
        return []
    problems = []
    for repeat in slow_searches(tree):
        text = written(matcher, repeat.span, "a repeat")
        problems.append(
            warning(
                "matcher-slow-search",
                file,
                WHERE,
                f"matcher {json.dumps(matcher)} is searched from every position of the "
                f"action, and {text} takes the characters a match starts with: on an "
                "action made of them, it runs on from each one, which takes time "
                "growing with the square of the action's length (x\\w+_added: 0.3 s "
                "on 16,384 x's, about 5 s on 64 KiB, on the service's event loop)",
                "anchor it with ^ if the action starts with what it looks for, or "
                "bound the repeat (for \\w+ write \\w{1,64})",
                within=repeat.span,
            )
        )
    return problems


# --- /.../flags -----------------------------------------------------------------------


def regex_literal(file: str, matcher: str) -> Optional[Diagnostic]:
    match = REGEX_LITERAL.fullmatch(matcher)
    if match is None or match.group("body").startswith("/"):
        return None
    body, flags = match.group("body"), match.group("flags")
    fixed = ignoring_case(body) if "i" in flags else body
    if fixed is None:
        fixed = body
    notes = [
        f"{flag}: {FLAG_ADVICE[flag]}"
        for flag in dict.fromkeys(flags)
        if flag in FLAG_ADVICE
    ]
    ignored = "".join(sorted(set(flags) & set("dgy")))
    if ignored:
        notes.append(f"{ignored}: no effect on a test, drop it")
    said = f" with the flags {flags!r}" if flags else ""
    return warning(
        "matcher-regex-literal",
        file,
        WHERE,
        f"matcher {json.dumps(matcher)} is written as a JavaScript regex literal"
        f"{said}; the matcher is the pattern alone, so the slashes are matched as "
        "characters and no action matches: every batch would be removed",
        f"write {json.dumps(fixed)}"
        + (f" (flags are not supported; {'; '.join(notes)})" if notes else ""),
        replacement=fixed,
    )


def ignoring_case(pattern: str) -> Optional[str]:
    """The pattern with every ASCII letter outside escapes and classes as [aA]; None
    when it has classes, escapes or group names that this simple rewrite would break."""
    if re.search(r"\\|\[|\(\?<[^=!]", pattern):
        return None
    return re.sub(
        r"[A-Za-z]", lambda m: f"[{m.group().lower()}{m.group().upper()}]", pattern
    )


# --- anchors that can never hold --------------------------------------------------------


def never_matches(file: str, matcher: str) -> Iterator[Diagnostic]:
    try:
        tree = parse_tree(matcher)
    except UnsupportedRegex:  # translated already, so this does not happen
        return
    dead, anchors = dead_anchors(tree)
    options = alternatives(tree)
    if dead:
        yield dead_warning(file, matcher, anchors, "matches no string at all, so every "
                           "batch would be removed")  # fmt: skip
        return
    for number, option in enumerate(options, 1):
        dead, anchors = dead_anchors(option)
        if dead and len(options) > 1:
            yield dead_warning(file, matcher, anchors, f"has an alternative (number "
                               f"{number}) that can never match")  # fmt: skip


def dead_warning(file: str, matcher: str, anchors: list[Any], what: str) -> Diagnostic:
    where = ", ".join(f'"{a.symbol}" at position {a.position}' for a in anchors)
    reason = (
        f"{where} can never hold there: ^ matches only before the first character "
        "and $ only after the last"
        if anchors
        else "a part of it matches no character ([])"
    )
    first = anchors[0].position if anchors else 0
    return warning(
        "matcher-never-matches",
        file,
        WHERE,
        f"matcher {json.dumps(matcher)} {what}: {reason}",
        "move ^ to the start and $ to the end of each alternative, e.g. "
        "^(add|add_members)$",
        within=(first, first + 1) if anchors else None,
    )


# --- removals taken for additions --------------------------------------------------------


def removals(
    manifest: Manifest, parser: dict[str, Any], matcher: str, python_pattern: str
) -> list[Diagnostic]:
    candidates = removal_candidates(manifest, parser, matcher)
    accepted = [a for a in candidates if js_test(python_pattern, a)]
    shown = example_actions(manifest, parser)
    source = ""
    if accepted and accepted[0] in shown:
        source = " (an action an example body sends)"
    rejected = [a for a in shown if looks_like_addition(a) and not looks_like_removal(a)
                and not js_test(python_pattern, a)]  # fmt: skip
    problems = []
    if accepted:
        problems.append(
            warning(
                "matcher-accepts-removal",
                manifest.path,
                WHERE,
                f"matcher {json.dumps(matcher)} also matches {json.dumps(accepted[0])}"
                f"{source}, so a removal would be applied as an addition",
                "anchor the matcher to the add actions only, e.g. ^add_member$",
            )
        )
    if rejected:
        problems.append(
            warning(
                "matcher-rejects-addition",
                manifest.path,
                WHERE,
                f"matcher {json.dumps(matcher)} does not match {json.dumps(rejected[0])}, "
                "an action an example body sends, so that addition would be applied as "
                "a removal",
                f"make the matcher accept {json.dumps(rejected[0])}, e.g. "
                f"^({'|'.join(re.escape(a) for a in dict.fromkeys(rejected))})$",
            )
        )
    return problems


def removal_candidates(
    manifest: Manifest, parser: dict[str, Any], matcher: str
) -> tuple[str, ...]:
    """The usual removal spellings; then the removal-looking words of the matcher
    itself and of the rest of the manifest (REMOVE_MEMBERS, remove_from_audience), the
    strings the matcher can match that look like removals, and the removal actions
    of the example bodies: the spellings cannot foresee every partner's names.
    """
    words = set(WORD.findall(matcher)) | set(manifest_words(manifest.document, matcher))
    try:
        words |= set(samples(parse_tree(matcher)))
    except UnsupportedRegex:
        pass
    words |= set(example_actions(manifest, parser))
    own = sorted(w for w in words if looks_like_removal(w))
    return removal_actions() + tuple(own)


def manifest_words(document: Any, skip: str) -> Iterator[str]:
    """The words of every string in the manifest (descriptions name actions too)."""
    if isinstance(document, str):
        if document != skip:
            yield from WORD.findall(document)
    elif isinstance(document, dict):
        for value in document.values():
            yield from manifest_words(value, skip)
    elif isinstance(document, list):
        for value in document:
            yield from manifest_words(value, skip)


def example_actions(manifest: Manifest, parser: dict[str, Any]) -> list[str]:
    """The action strings the example bodies send at arrayInclusion.path."""
    path = parser.get("arrayInclusion", {}).get("path")
    if not isinstance(path, str):
        return []
    values = (resolve(doc, path) for doc in example_documents(manifest))
    return [v for v in values if v is not MISSING and isinstance(v, str)]


def action_words(action: str) -> list[str]:
    """The lower-case words of an action name: remove_member, userExitedAudience."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", action)
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


def looks_like_removal(action: str) -> bool:
    return any(
        w in REMOVAL_TOKENS or w.startswith(REMOVAL_STEMS) for w in action_words(action)
    )


def looks_like_addition(action: str) -> bool:
    return any(w.startswith(ADDITION_STEMS) for w in action_words(action))


@lru_cache(maxsize=1)
def removal_actions() -> tuple[str, ...]:
    """Plausible action names that mean remove, in the spellings partners use."""
    actions = []
    for word in REMOVAL_WORDS:
        for spelled in (word, word.upper(), word.capitalize()):
            for prefix in REMOVAL_PREFIXES:
                for affix in REMOVAL_AFFIXES:
                    actions.append(prefix + spelled + affix)
    return tuple(actions)
