"""Reference interpreter: parses a request body by reading the manifest at run time.

The independent oracle the generated parsers are tested against (SPEC.md section 3, body
decoding of section 4). It resolves JSON pointers at run time with `jsonpointer`; it is
written for clarity, not speed. Standard library and `jsonpointer` only (plus the shared
JavaScript-regex translator for `arrayInclusion.matcher`).
"""

from __future__ import annotations

import json
import re

from jsonpointer import JsonPointer

from compiler.jsregex import js_test, translate

__all__ = ["InterpreterError", "interpret", "interpret_bytes"]

MISSING = object()
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_CONTEXT_KIND = re.compile(r"[A-Za-z0-9._-]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class InterpreterError(Exception):
    """A request the parser refuses: HTTP `status`, short `code`, human `message`."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(status, code, message)
        self.status = status
        self.code = code
        self.message = message


def _fail(code: str, message: str):
    raise InterpreterError(400, code, message)


def q(pointer: str) -> str:
    """The pointer quoted as in every error message."""
    return json.dumps(pointer, ensure_ascii=False)


def describe(value: object) -> str:
    """What a present JSON value is, for error messages (never called with None)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if value == "" else "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    raise TypeError(f"not a JSON value: {value!r}")


def resolve(node: object, pointer: str) -> object:
    """The value at `pointer` (RFC 6901) under `node`, or MISSING (also for null)."""
    for token in JsonPointer(pointer).parts:
        if isinstance(node, dict):
            if token not in node:
                return MISSING
            node = node[token]
        elif isinstance(node, list):
            # `-`, non-numeric tokens and leading zeros are not indexes; a token too
            # long to be in range is out of range (int() refuses > 4300 digits).
            if not _ARRAY_INDEX.fullmatch(token) or len(token) > 18:
                return MISSING
            index = int(token)
            if index >= len(node):
                return MISSING
            node = node[index]
        else:  # a scalar or null has no children
            return MISSING
    return MISSING if node is None else node


def _id_like_or_none(value: object) -> str | None:
    if isinstance(value, str) and value != "":
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _required_id(node: object, prop: str, pointer: str, prefix: str = "") -> str:
    value = resolve(node, pointer)
    where = f"{prefix}{prop} {q(pointer)}"
    if value is MISSING:
        _fail("missing_value", f"{where}: no value in request body")
    result = _id_like_or_none(value)
    if result is None:
        _fail(
            "invalid_value",
            f"{where}: expected a non-empty string or an integer, "
            f"got {describe(value)}",
        )
    return result


def _context_kind(doc: dict, parser: dict) -> str:
    if "contextKindPath" not in parser:
        return "user"
    pointer = parser["contextKindPath"]
    value = resolve(doc, pointer)
    if value is MISSING:
        return "user"
    where = f"contextKindPath {q(pointer)}"
    if not isinstance(value, str):
        _fail("invalid_value", f"{where}: expected a string, got {describe(value)}")
    if not _CONTEXT_KIND.fullmatch(value) or value in ("kind", "multi"):
        shown = json.dumps(value, ensure_ascii=False)
        _fail("invalid_value", f"{where}: {shown} is not a valid context kind")
    return value


def _cohort_url(doc: dict, parser: dict) -> str | None:
    if "cohortUrlPath" not in parser:
        return None
    pointer = parser["cohortUrlPath"]
    value = resolve(doc, pointer)
    if value is MISSING:
        return None
    if not isinstance(value, str):
        _fail(
            "invalid_value",
            f"cohortUrlPath {q(pointer)}: expected a string, got {describe(value)}",
        )
    return value


def _array(doc: dict, prop: str, pointer: str, required: bool) -> list:
    value = resolve(doc, pointer)
    if value is MISSING:
        if required:
            _fail("missing_value", f"{prop} {q(pointer)}: no value in request body")
        return []
    if not isinstance(value, list):
        _fail(
            "invalid_value",
            f"{prop} {q(pointer)}: expected an array, got {describe(value)}",
        )
    return value


def _action_included(doc: dict, inclusion: dict) -> bool:
    pointer = inclusion["path"]
    value = resolve(doc, pointer)
    where = f"arrayInclusion.path {q(pointer)}"
    if value is MISSING:
        _fail("missing_value", f"{where}: no value in request body")
    if not isinstance(value, str):
        _fail("invalid_value", f"{where}: expected a string, got {describe(value)}")
    return js_test(translate(inclusion["matcher"]), value)


def _batches(doc: dict, parser: dict) -> list[tuple[str, list, bool | None]]:
    """(array pointer, members, included) per member array, in processing order.

    `included` is None in boolean mode, where each member says it itself.
    """
    if "arrayInclusion" in parser:
        included = _action_included(doc, parser["arrayInclusion"])
        pointer = parser["memberArrayPath"]
        return [(pointer, _array(doc, "memberArrayPath", pointer, True), included)]
    if "memberArrayPath" in parser:
        pointer = parser["memberArrayPath"]
        return [(pointer, _array(doc, "memberArrayPath", pointer, True), None)]
    add, remove = parser["addMemberArrayPath"], parser["removeMemberArrayPath"]
    add_members = _array(doc, "addMemberArrayPath", add, False)
    remove_members = _array(doc, "removeMemberArrayPath", remove, False)
    return [(add, add_members, True), (remove, remove_members, False)]


def _boolean_membership(member: dict, pointer: str, prefix: str) -> bool:
    value = resolve(member, pointer)
    where = f"{prefix}memberArrayParser.booleanMembershipPath {q(pointer)}"
    if value is MISSING:
        _fail("missing_value", f"{where}: no value in request body")
    if value is not True and value is not False:
        _fail(
            "invalid_value", f"{where}: expected true or false, got {describe(value)}"
        )
    return value


def interpret(integration_key: str, manifest: dict, doc: object) -> dict:
    """Parse a decoded request body the way SPEC section 3 says.

    Returns the to_json() form; raises InterpreterError for a refused request.
    """
    parser = manifest["capabilities"]["syncedSegment"]["requestParser"]
    member_parser = parser["memberArrayParser"]
    if not isinstance(doc, dict):
        _fail("not_an_object", "request body must be a JSON object")

    environment_id = _required_id(doc, "environmentIdPath", parser["environmentIdPath"])
    context_kind = _context_kind(doc, parser)
    cohort_id = _required_id(doc, "cohortIdPath", parser["cohortIdPath"])
    cohort_name = _required_id(doc, "cohortNamePath", parser["cohortNamePath"])
    cohort_url = _cohort_url(doc, parser)
    batches = _batches(doc, parser)

    # cohort id -> {"name": first-seen name, "ops": {member id: last op (True = add)}};
    # dicts keep first-insertion order, which is the order the contract asks for.
    cohorts = {cohort_id: {"name": cohort_name, "ops": {}}}
    for array_pointer, members, included in batches:
        for i, member in enumerate(members):
            prefix = f"member {i} of {q(array_pointer)}: "
            if not isinstance(member, dict):
                _fail(
                    "invalid_member",
                    f"member {i} of {q(array_pointer)} is not an object",
                )
            member_id = _required_id(
                member,
                "memberArrayParser.memberIdPath",
                member_parser["memberIdPath"],
                prefix,
            )
            op = included
            if op is None:
                op = _boolean_membership(
                    member, member_parser["booleanMembershipPath"], prefix
                )
            target, name = cohort_id, cohort_name
            if "cohortIdPath" in member_parser:
                override = _id_like_or_none(
                    resolve(member, member_parser["cohortIdPath"])
                )
                target = cohort_id if override is None else override
            if "cohortNamePath" in member_parser:
                override = _id_like_or_none(
                    resolve(member, member_parser["cohortNamePath"])
                )
                name = cohort_name if override is None else override
            cohort = cohorts.setdefault(target, {"name": name, "ops": {}})
            cohort["ops"][member_id] = op

    changes = [
        {
            "segmentKey": f"{integration_key}-{cid}",
            "cohortId": cid,
            "cohortName": cohort["name"],
            "cohortUrl": cohort_url if cid == cohort_id else None,
            "added": [m for m, op in cohort["ops"].items() if op],
            "removed": [m for m, op in cohort["ops"].items() if not op],
        }
        for cid, cohort in cohorts.items()
    ]
    return {
        "environmentId": environment_id,
        "contextKind": context_kind,
        "changes": changes,
    }


class _NotJson(Exception):
    pass


def _reject_constant(name: str):
    raise _NotJson(name)  # NaN, Infinity, -Infinity are not JSON


def _has_unpaired_surrogate(doc: object) -> bool:
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def decode_body(body: bytes) -> object:
    """The JSON value of raw request bytes; InterpreterError(400, ...) if refused."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        _fail("invalid_encoding", "request body is not valid UTF-8")
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        _fail("too_deep", "request body is nested too deeply")
    except (json.JSONDecodeError, _NotJson):
        _fail("invalid_json", "request body is not valid JSON")
    except ValueError:  # an integer literal past sys.get_int_max_str_digits()
        _fail("invalid_json", "request body has an integer of more than 4300 digits")
    # A correct escape pair decodes to one code point; what is left is unpaired. (Raw
    # surrogates cannot get here: strict UTF-8 decoding refuses them.)
    if _has_unpaired_surrogate(doc):
        _fail("invalid_json", "request body contains an unpaired surrogate escape")
    return doc


def interpret_bytes(integration_key: str, manifest: dict, body: bytes) -> dict:
    """Decode raw request bytes (SPEC section 4, status 400 rules) then interpret()."""
    return interpret(integration_key, manifest, decode_body(body))
