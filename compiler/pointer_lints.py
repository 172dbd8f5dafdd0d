"""Pointer lints: JSONPath, dotted and bracket spellings, and member paths written wrong.

Part of validate. A partner who knows JSONPath or JavaScript writes `$.batch[0].id`,
`members.id` or `/members[0].id`; one who forgets that `memberArrayParser` reads inside
each member writes `/batch/0/userId`. Each warning suggests a pointer that is itself
valid RFC 6901 (tests/test_lints.py checks every suggestion with the schema's rule).

Example bodies beside a manifest (`<key>/examples/*.json`) silence a spelling warning
when they have a value at the pointer as written: some keys really hold a dot.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from itertools import combinations
from typing import Any, Iterable, Iterator, Optional

from .diagnostics import Diagnostic, pointer_join, warning
from .load import Manifest
from .positions import pointer_tokens

PARSER = "/capabilities/syncedSegment/requestParser"
INDEX = re.compile(r"0|[1-9][0-9]*")
# One step of a dotted/bracketed path: .name, name, [0], ['name'], ["name"], [*].
_STEP = re.compile(
    r"""\.{0,2}(?P<name>[^.\[\]]+)"""
    r"""|\[\s*(?P<index>\d+|\*)\s*\]"""
    r"""|\[\s*'(?P<single>(?:[^'\\]|\\.)*)'\s*\]"""
    r"""|\[\s*"(?P<double>(?:[^"\\]|\\.)*)"\s*\]"""
)
# A token that is a path of names and indexes (members.id, batch[0], $.a), as opposed
# to a key that merely holds a dot or a bracket ({{ m.key }}, "1.5").
_NAME = r"[A-Za-z_$][A-Za-z0-9_$-]*"
_PATH_LIKE = re.compile(
    rf"(?:{_NAME}|\$)(?:\.{_NAME}|\.\d+|\[\d+\]|\['[^']*'\]|\[\"[^\"]*\"\])+"
    rf"|\[\d+\](?:\.{_NAME}|\[\d+\])*"
    rf"|\d+(?:\.\d+)*\.{_NAME}(?:\.{_NAME}|\.\d+|\[\d+\])*"  # 0.cohortId, not 1.5
)

# Values of a request; two of them may not be read from one place, except the cohort's
# id and name: a partner that has one identifier for a cohort sends it once.
REQUEST_VALUES = (
    "environmentIdPath",
    "contextKindPath",
    "cohortIdPath",
    "cohortNamePath",
    "cohortUrlPath",
    "arrayInclusion/path",
    "memberArrayPath",
    "addMemberArrayPath",
    "removeMemberArrayPath",
)
MEMBER_VALUES = (
    "memberIdPath",
    "booleanMembershipPath",
    "cohortIdPath",
    "cohortNamePath",
)
SAME_PLACE_ALLOWED = frozenset({frozenset({"cohortIdPath", "cohortNamePath"})})
ARRAYS = ("memberArrayPath", "addMemberArrayPath", "removeMemberArrayPath")


# --- the pointer a spelling means --------------------------------------------------------


def suggested_pointer(spelled: str) -> str:
    """The RFC 6901 pointer most likely meant by a JSONPath (`$.a[0].b`), dotted
    (`a.b`), bracketed (`a[0].b`), URI-fragment (`#/a/b`) or slash-less spelling."""
    if spelled.startswith("#"):  # a URI fragment: percent-encoded, then a pointer
        decoded = urllib.parse.unquote(spelled[1:])
        return suggested_pointer(decoded) if decoded else ""
    if spelled == "$":  # JSONPath's root
        return ""
    if spelled.startswith("$"):
        tokens = path_steps(spelled[1:])
        if tokens is not None:
            return pointer_join(*tokens)
    if not spelled.startswith("/"):
        tokens = path_steps(spelled) if "/" not in spelled else None
        if tokens is not None:
            return pointer_join(*tokens)
        spelled = "/" + spelled
    return unspelled(escape_tildes(spelled))


def unspelled(pointer: str) -> str:
    """A valid pointer with each path-like token (`members[0].id`) split into tokens."""
    tokens: list[str] = []
    for token in pointer_tokens(pointer):
        steps = path_steps(token) if _PATH_LIKE.fullmatch(token) else None
        if steps and steps[0] == "$" and not tokens:
            steps = steps[1:]
        tokens += steps if steps is not None else [token]
    return pointer_join(*tokens)


def path_steps(path: str) -> Optional[list[str]]:
    """The keys and indexes of a dotted/bracketed path, or None if it is not one."""
    steps, pos = [], 0
    while pos < len(path):
        match = _STEP.match(path, pos)
        if match is None or match.end() == pos:
            return None
        name = next(
            v for v in match.group("name", "index", "single", "double") if v is not None
        )
        if match.group("single") is not None or match.group("double") is not None:
            name = re.sub(r"\\(.)", r"\1", name)
        steps.append("0" if name == "*" else name)
        pos = match.end()
    return steps or None


def escape_tildes(pointer: str) -> str:
    """A lone "~" (not ~0 or ~1) written as the escape "~0"."""
    return re.sub("~(?![01])", "~0", pointer)


# --- spelling lints ----------------------------------------------------------------------


def pointer_properties(parser: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """(manifest pointer, value, inside each member) of every pointer of a requestParser."""
    for name, value in parser.items():
        if name.endswith("Path") and isinstance(value, str):
            yield PARSER + pointer_join(name), value, False
    inclusion = parser.get("arrayInclusion")
    if isinstance(inclusion, dict) and isinstance(inclusion.get("path"), str):
        yield PARSER + "/arrayInclusion/path", inclusion["path"], False
    members = parser.get("memberArrayParser")
    if isinstance(members, dict):
        for name, value in members.items():
            if name.endswith("Path") and isinstance(value, str):
                yield PARSER + pointer_join("memberArrayParser", name), value, True


def spelling_lints(manifest: Manifest, parser: dict[str, Any]) -> list[Diagnostic]:
    """Valid pointers whose tokens look like JSONPath, dotted or bracket paths, or that
    hold an empty token (a doubled or trailing "/")."""
    problems = []
    for where, pointer, in_member in pointer_properties(parser):
        if not pointer.startswith("/") or seen_in_examples(
            manifest, parser, pointer, in_member
        ):
            continue
        problem = spelling_problem(manifest.path, where, pointer)
        if problem is not None:
            problems.append(problem)
    return problems


def spelling_problem(file: str, where: str, pointer: str) -> Optional[Diagnostic]:
    tokens = pointer_tokens(pointer)
    name = where.rsplit("/", 1)[-1]
    bracketed = [t for t in tokens if "[" in t and _PATH_LIKE.fullmatch(t)]
    dotted = [t for t in tokens if "[" not in t and _PATH_LIKE.fullmatch(t)]
    if bracketed or dotted:
        fixed = unspelled(pointer)
        code, kind = (
            ("bracket-index", "bracket indexing")
            if bracketed
            else ("dotted-token", "a dotted path")
        )
        shown = ", ".join(json.dumps(t) for t in bracketed or dotted)
        return warning(
            code,
            file,
            where,
            f"{name} {json.dumps(pointer)} looks like {kind} ({shown}), which JSON "
            "pointers do not have: the token is read as one property name",
            f"did you mean {json.dumps(fixed)}? a JSON pointer separates every key "
            'and array index with its own "/" (if the key really holds the '
            "character, add an example body that has it in examples/)",
            replacement=fixed,
        )
    if "" in tokens:
        fixed = pointer_join(*[t for t in tokens if t])
        return warning(
            "empty-token",
            file,
            where,
            f"{name} {json.dumps(pointer)} has an empty token (a doubled or trailing "
            '"/"), which reads a property named ""',
            f"did you mean {json.dumps(fixed)}?",
            replacement=fixed,
        )
    return None


# --- memberArrayParser paths -------------------------------------------------------------


def member_lints(manifest: Manifest, parser: dict[str, Any]) -> list[Diagnostic]:
    """Member paths that look written from the body root, instead of from each member."""
    members = parser.get("memberArrayParser")
    if not isinstance(members, dict):
        return []
    values = request_values(parser)
    arrays = {n: v for n, v in values.items() if n in ARRAYS}
    request = {n: v for n, v in values.items() if n not in ARRAYS}
    problems = []
    for name, path in member_values(members).items():
        if not path or seen_in_examples(manifest, parser, path, True):
            continue
        where = PARSER + "/memberArrayParser/" + name
        problem = from_root_problem(manifest.path, where, name, path, arrays, request)
        if problem is not None:
            problems.append(problem)
    return problems


def from_root_problem(
    file: str,
    where: str,
    name: str,
    path: str,
    arrays: dict[str, str],
    request: dict[str, str],
) -> Optional[Diagnostic]:
    tokens = pointer_tokens(path)
    for array_name, array in arrays.items():
        prefix = pointer_tokens(array)
        if array and tokens[: len(prefix)] == prefix and len(tokens) > len(prefix):
            rest = tokens[len(prefix) :]
            if len(rest) > 1 and (INDEX.fullmatch(rest[0]) or rest[0] in ("-", "*")):
                rest = rest[1:]
            fixed = pointer_join(*rest)
            return warning(
                "member-path-from-root",
                file,
                where,
                f"memberArrayParser.{name} {json.dumps(path)} starts with the member "
                f"array's pointer ({array_name} {json.dumps(array)}), but it is read "
                "inside each member, so it looks for that path within every member",
                f"did you mean {json.dumps(fixed)}? memberArrayParser paths are "
                "relative to each member of the array",
                replacement=fixed,
            )
    # An override equal to the request's own one-token pointer ("/cohortId") is a
    # shape partners send (each member carries the key too), and harmless when a
    # member lacks it; the member's id or membership, or a nested path such as
    # "/parameters/cohort_id", read from each member is a path written from the root.
    decisive = name in ("memberIdPath", "booleanMembershipPath") or len(tokens) > 1
    for other, pointer in request.items():
        if pointer == path and decisive:
            return warning(
                "member-path-from-root",
                file,
                where,
                f"memberArrayParser.{name} {json.dumps(path)} is the pointer of the "
                f"request's {other}, but it is read inside each member: it looks "
                "written from the body root",
                'write the path inside each member (e.g. "/userId" for '
                '{"userId": ...}), or remove it if the value is not in the members',
            )
    return None


# --- two values from one place -----------------------------------------------------------


def request_values(parser: dict[str, Any]) -> dict[str, str]:
    """Name -> pointer of every request-level value (arrayInclusion/path included)
    that is a valid pointer (an invalid one is an error of its own)."""
    values = {}
    for name in REQUEST_VALUES:
        group, _, field = name.rpartition("/")
        source = parser.get(group) if group else parser
        if isinstance(source, dict) and is_pointer(source.get(field)):
            values[name] = source[field]
    return values


def member_values(members: dict[str, Any]) -> dict[str, str]:
    """Name -> pointer of every valid pointer of a memberArrayParser."""
    return {n: members[n] for n in MEMBER_VALUES if is_pointer(members.get(n))}


def is_pointer(value: object) -> bool:
    return isinstance(value, str) and (value == "" or value.startswith("/"))


def overlap_lints(manifest: Manifest, parser: dict[str, Any]) -> list[Diagnostic]:
    """Two values read from one place, or a value read from inside another one."""
    members = parser.get("memberArrayParser")
    levels: list[tuple[str, str, dict[str, str], tuple[str, ...]]] = [
        ("requestParser", "", request_values(parser), ARRAYS)
    ]
    if isinstance(members, dict):
        values = member_values(members)
        levels.append(("memberArrayParser", "/memberArrayParser", values, ()))
    problems: list[Diagnostic] = []
    for level, base, values, arrays in levels:
        problems += same_place(manifest.path, level, base, values)
        problems += inside_values(manifest.path, level, base, values, arrays)
    return problems


def same_place(
    file: str, level: str, base: str, values: dict[str, Any]
) -> Iterator[Diagnostic]:
    for (a, pa), (b, pb) in combinations(values.items(), 2):
        if pa != pb or frozenset({a, b}) in SAME_PLACE_ALLOWED:
            continue
        yield warning(
            "same-place",
            file,
            PARSER + base + "/" + b,
            f"{level}.{b} and {level}.{a} both read {json.dumps(pa)}: one value "
            "cannot be both",
            f"point {b} at where the body holds it (only a cohort's id and name may "
            "share a pointer)",
        )


def inside_values(
    file: str, level: str, base: str, values: dict[str, Any], arrays: Iterable[str]
) -> Iterator[Diagnostic]:
    """A scalar whose pointer another value reads inside, or a key read of an array."""
    for a, pa in values.items():
        for b, pb in values.items():
            ta, tb = pointer_tokens(pa), pointer_tokens(pb)
            if a == b or len(ta) >= len(tb) or tb[: len(ta)] != ta or not pa:
                continue
            step = tb[len(ta)]
            if a in arrays and (INDEX.fullmatch(step) or step == "-"):
                continue  # the first member's cohort, e.g. "/batch/0/cohortId"
            if a in arrays:
                fixed = pointer_join(*ta, "0", *tb[len(ta) :])
                yield warning(
                    "value-inside-value",
                    file,
                    PARSER + base + "/" + b,
                    f"{level}.{b} {json.dumps(pb)} reads the key {json.dumps(step)} "
                    f"of {a} {json.dumps(pa)}, which is an array: arrays have only "
                    "indexes",
                    f"did you mean the first member's, {json.dumps(fixed)}?",
                    replacement=fixed,
                )
            else:
                yield warning(
                    "value-inside-value",
                    file,
                    PARSER + base + "/" + a,
                    f"{level}.{a} {json.dumps(pa)} must be a single value, but "
                    f"{b} {json.dumps(pb)} reads inside it",
                    f"point {a} at the value itself, e.g. {json.dumps(pb)} if that "
                    f"is it, or fix {b}",
                )


# --- what the examples show --------------------------------------------------------------


def seen_in_examples(
    manifest: Manifest, parser: dict[str, Any], pointer: str, in_member: bool
) -> bool:
    """Whether an example body has a value at this pointer (in a member, for a member
    path): then the spelling is what the partner really sends."""
    for document in example_documents(manifest):
        scopes = member_scopes(document, parser) if in_member else [document]
        if any(resolve(scope, pointer) is not MISSING for scope in scopes):
            return True
    return False


def example_documents(manifest: Manifest) -> list[Any]:
    return [e.document for e in manifest.examples if e.document is not None]


def member_scopes(document: Any, parser: dict[str, Any]) -> list[Any]:
    members = []
    for name in ARRAYS:
        if isinstance(parser.get(name), str):
            array = resolve(document, parser[name])
            if isinstance(array, list):
                members += array
    return members


MISSING = object()


def resolve(document: Any, pointer: str) -> Any:
    """The value at a pointer (SPEC section 3's rules), or MISSING."""
    value = document
    for token in pointer_tokens(pointer):
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif (
            isinstance(value, list)
            and INDEX.fullmatch(token)
            and int(token) < len(value)
        ):
            value = value[int(token)]
        else:
            return MISSING
    return value
