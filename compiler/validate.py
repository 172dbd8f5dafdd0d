"""Validate: schema, cross-field rules, the matcher and lints; returns diagnostics."""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Iterator

import jsonschema

from .diagnostics import Diagnostic, error, pointer_join, warning
from .handlebars import TemplateError, mentions
from .handlebars import parse as parse_template
from .jsregex import UnsupportedRegex, js_test, translate
from .load import Manifest
from .lower_response import lower_template

CAPABILITY = "/capabilities/syncedSegment"
PARSER = CAPABILITY + "/requestParser"
MEMBER_PARSER = PARSER + "/memberArrayParser"

POINTER_HINT = (
    'a JSON pointer is "" or starts with "/", e.g. "/batch/0/cohortId"; '
    'write "~" inside a token as "~0" and "/" as "~1"'
)

# Actions that must never count as "add": a matcher accepting one of these turns a
# removal into an addition (the upstream Tealium manifest does exactly that).
REMOVAL_WORDS = ("remove", "delete", "exit")
REMOVAL_AFFIXES = ("", "s", "d", "_member", "_members", "-member", "-members", "_user")
REMOVAL_PREFIXES = ("", "member_", "members_", "user_", "audience_")
MATCHER_WORD = re.compile(r"[A-Za-z0-9_-]+")

NAMED_ARRAYS = frozenset({"addMemberArrayPath", "removeMemberArrayPath"})
BRACKET_TOKEN = re.compile(r"[^\[\]]*\[\d+\]")
SYNTAX_ERROR = "invalid syntax: "  # how jsregex names a pattern JavaScript rejects


@lru_cache(maxsize=1)
def schema_validator() -> jsonschema.protocols.Validator:
    text = resources.files(__package__).joinpath("schema/synced-segment.schema.json")
    schema = json.loads(text.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def synced_segment(manifest: Manifest) -> Any:
    """The syncedSegment capability, or None when the manifest has none."""
    document = manifest.document
    if not isinstance(document, dict):
        return None
    capabilities = document.get("capabilities")
    if not isinstance(capabilities, dict):
        return None
    return capabilities.get("syncedSegment")


def validate(manifest: Manifest) -> list[Diagnostic]:
    """Every error and warning of one manifest that has a syncedSegment capability."""
    capability = synced_segment(manifest)
    problems = list(schema_problems(manifest, capability))
    if not isinstance(capability, dict):
        return problems
    parser = capability.get("requestParser")
    if isinstance(parser, dict):
        problems += cross_field_problems(manifest, parser)
        problems += matcher_problems(manifest, parser)
        problems += bracket_lints(manifest, parser)
    template = capability.get("jsonResponseBody")
    if isinstance(template, str):
        problems += template_problems(manifest, template)
    return problems


def manifest_shape_problem(manifest: Manifest) -> Diagnostic | None:
    """An error when the manifest is not an object with an object of capabilities.

    A syncedSegment that is null is an error too: skipping it as "no capability" would
    let a manifest that means to sync segments pass silently.
    """
    document = manifest.document
    if not isinstance(document, dict):
        return error(
            "manifest-not-object",
            manifest.path,
            "",
            f"the manifest must be a JSON object, not {json_type(document)}",
            'write the manifest as {"name": ..., "capabilities": {...}}',
        )
    capabilities = document.get("capabilities")
    if "capabilities" in document and not isinstance(capabilities, dict):
        return error(
            "capabilities-not-object",
            manifest.path,
            "/capabilities",
            f"capabilities must be an object, not {json_type(capabilities)}",
            'write "capabilities": {"syncedSegment": {...}}',
        )
    if isinstance(capabilities, dict) and capabilities.get("syncedSegment", {}) is None:
        return error(
            "wrong-type",
            manifest.path,
            CAPABILITY,
            "syncedSegment must be an object, not null",
            'write "syncedSegment": {"requestParser": {...}}, or remove it',
        )
    return None


# --- schema -------------------------------------------------------------------------


def schema_problems(manifest: Manifest, capability: Any) -> Iterator[Diagnostic]:
    errors = schema_validator().iter_errors(capability)
    for problem in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        yield from describe_schema_error(manifest, problem)


def describe_schema_error(
    manifest: Manifest, problem: jsonschema.ValidationError
) -> Iterator[Diagnostic]:
    where = CAPABILITY + pointer_join(*problem.absolute_path)
    name = str(problem.absolute_path[-1]) if problem.absolute_path else "syncedSegment"
    kind = problem.validator
    if kind == "additionalProperties":
        allowed = sorted(problem.schema.get("properties", {}))
        for extra in sorted(set(problem.instance) - set(allowed)):
            close = difflib.get_close_matches(extra, allowed, n=1)
            hint = f'did you mean "{close[0]}"? ' if close else ""
            yield error(
                "unknown-property",
                manifest.path,
                where + pointer_join(extra),
                f'unknown property "{extra}" in {name}',
                hint + "allowed here: " + ", ".join(allowed),
            )
    elif kind == "required":
        missing = problem.message.split("'")[1]
        yield error(
            "missing-property",
            manifest.path,
            where,
            f'{name} is missing the required property "{missing}"',
            f'add "{missing}": '
            + value_hint(*schema_at([*problem.absolute_path, missing])),
        )
    elif kind == "pattern":
        yield error(
            "bad-pointer",
            manifest.path,
            where,
            f"{name} {json.dumps(problem.instance)} is not a valid JSON pointer: "
            + pointer_flaw(problem.instance),
            f"did you mean {json.dumps(pointer_fixed(problem.instance))}? "
            + POINTER_HINT,
        )
    elif kind == "type":
        expected = problem.validator_value
        yield error(
            "wrong-type",
            manifest.path,
            where,
            f"{name} must be {article(expected)}, not {json_type(problem.instance)}",
            f"write {name} as {article(expected)}: "
            + value_hint(*schema_at(problem.absolute_path)),
        )
    else:  # no other keyword is in the schema today; say what jsonschema says
        yield error(
            "schema", manifest.path, where, problem.message, "see the schema file"
        )


def schema_at(tokens: Iterable[str | int]) -> tuple[dict, str]:
    """The schema of the property at an instance path, with $ref followed, and its
    description (which sits beside the $ref); the root's description is for maintainers.
    """
    root = schema_validator().schema
    node, description = root, ""
    for token in tokens:
        node = node["properties"][token]
        description = node.get("description", "")
        if "$ref" in node:
            node = root["$defs"][node["$ref"].removeprefix("#/$defs/")]
        description = description or node.get("description", "")
    return node, description


def value_hint(schema: dict, description: str) -> str:
    """What a property's value looks like: an object's required keys, or its meaning."""
    if schema.get("type") == "object":
        keys = ", ".join(f'"{name}": ...' for name in schema.get("required", []))
        return "{" + keys + "}" + (f" ({description})" if description else "")
    return description or article(schema["type"])


def pointer_flaw(pointer: str) -> str:
    if not pointer.startswith("/"):
        return 'it does not start with "/"'
    return '"~" must be followed by 0 or 1 (an escape)'


def pointer_fixed(pointer: str) -> str:
    """The pointer most likely meant: a leading "/" added, a lone "~" escaped."""
    fixed = pointer if pointer.startswith("/") else "/" + pointer
    return re.sub("~(?![01])", "~0", fixed)


def article(json_type_name: str) -> str:
    return ("an " if json_type_name[0] in "aeiou" else "a ") + json_type_name


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return article({str: "string", list: "array", dict: "object"}[type(value)])


# --- cross-field rules ----------------------------------------------------------------


def cross_field_problems(manifest: Manifest, parser: dict) -> list[Diagnostic]:
    members = parser.get("memberArrayParser")
    has = set(parser)
    has_boolean = isinstance(members, dict) and "booleanMembershipPath" in members
    file = manifest.path
    problems = []

    def rule(code: str, prop: str, message: str, hint: str) -> None:
        problems.append(error(code, file, PARSER + "/" + prop, message, hint))

    pair = NAMED_ARRAYS & has
    if len(pair) == 1:
        (present,) = pair
        (other,) = NAMED_ARRAYS - pair
        rule(
            "named-arrays-pair",
            present,
            f"{present} needs {other}: the named arrays come together",
            f"add {other} (the array may be absent from some requests), "
            f"or use memberArrayPath instead",
        )
    if "memberArrayPath" in has and pair:
        rule(
            "mixed-member-arrays",
            "memberArrayPath",
            "memberArrayPath cannot be used with "
            "addMemberArrayPath/removeMemberArrayPath",
            "keep either memberArrayPath (one array) "
            "or the add/remove pair (two arrays)",
        )
    if "arrayInclusion" in has and "memberArrayPath" not in has and not pair:
        rule(
            "inclusion-needs-array",
            "arrayInclusion",
            "arrayInclusion needs memberArrayPath: the action applies to one array",
            "add memberArrayPath pointing at the members the action applies to",
        )
    if "arrayInclusion" in has and pair:
        rule(
            "inclusion-with-named-arrays",
            "arrayInclusion",
            "arrayInclusion is not used with addMemberArrayPath/removeMemberArrayPath",
            "named arrays already say add or remove: remove arrayInclusion",
        )
    if has_boolean and "memberArrayPath" not in has:
        problems.append(
            error(
                "boolean-needs-array",
                file,
                MEMBER_PARSER + "/booleanMembershipPath",
                "booleanMembershipPath needs memberArrayPath"
                + (", and is not used with the named arrays" if pair else ""),
                (
                    "named arrays already say add or remove: "
                    "remove booleanMembershipPath"
                    if pair
                    else "add memberArrayPath pointing at the members that carry "
                    "the boolean"
                ),
            )
        )
    undecided = "arrayInclusion" not in has and not has_boolean
    if "memberArrayPath" in has and undecided and not pair:
        rule(
            "membership-undecidable",
            "memberArrayPath",
            "memberArrayPath alone cannot say whether a member is added or removed",
            "add memberArrayParser.booleanMembershipPath (a true/false per member) "
            "or arrayInclusion (one action for the batch)",
        )
    if "memberArrayPath" not in has and not pair and undecided:
        problems.append(
            error(
                "no-member-array",
                file,
                PARSER,
                "requestParser names no member array",
                "add memberArrayPath (with booleanMembershipPath or arrayInclusion) "
                "or addMemberArrayPath and removeMemberArrayPath",
            )
        )
    if "memberArrayPath" in has and "arrayInclusion" in has and has_boolean:
        problems.append(
            warning(
                "boolean-ignored",
                file,
                MEMBER_PARSER + "/booleanMembershipPath",
                "booleanMembershipPath is ignored: arrayInclusion decides membership",
                "remove booleanMembershipPath, or remove arrayInclusion to use it",
            )
        )
    return problems


# --- matcher --------------------------------------------------------------------------


def matcher_problems(manifest: Manifest, parser: dict) -> list[Diagnostic]:
    inclusion = parser.get("arrayInclusion")
    if not isinstance(inclusion, dict) or not isinstance(inclusion.get("matcher"), str):
        return []
    matcher = inclusion["matcher"]
    where = PARSER + "/arrayInclusion/matcher"
    try:
        pattern = translate(matcher)
    except UnsupportedRegex as exc:
        if exc.construct.startswith(SYNTAX_ERROR):
            return [invalid_matcher(manifest, matcher, exc)]
        return [
            error(
                "untranslatable-matcher",
                manifest.path,
                where,
                f"matcher {json.dumps(matcher)} has no exact Python equivalent: {exc}",
                f"rewrite it without the {exc.construct}; an anchored alternation "
                "such as ^(add|add_members)$ is usually all a matcher needs",
            )
        ]
    accepted = [a for a in removal_candidates(matcher) if js_test(pattern, a)]
    if not accepted:
        return []
    return [
        warning(
            "matcher-accepts-removal",
            manifest.path,
            where,
            f"matcher {json.dumps(matcher)} also matches {json.dumps(accepted[0])}, "
            "so a removal would be applied as an addition",
            "anchor the matcher to the add actions only, e.g. ^add_member$",
        )
    ]


def invalid_matcher(
    manifest: Manifest, matcher: str, exc: UnsupportedRegex
) -> Diagnostic:
    what = exc.construct.removeprefix(SYNTAX_ERROR)
    return error(
        "invalid-matcher",
        manifest.path,
        PARSER + "/arrayInclusion/matcher",
        f"matcher {json.dumps(matcher)} is not a valid JavaScript regular expression: "
        f"{what} at position {exc.position}: {exc.reason}",
        f"fix the syntax at position {exc.position} (JavaScript's new RegExp rejects "
        "it too), e.g. ^(add|add_members)$",
    )


def removal_candidates(matcher: str) -> tuple[str, ...]:
    """The usual removal spellings, then the words of the matcher itself that name a
    removal (REMOVE_MEMBERS, remove_from_audience, exited): the spellings cannot
    foresee every partner's action names, but the matcher spells out its own.
    """
    own = [
        word
        for word in MATCHER_WORD.findall(matcher)
        if any(removal in word.lower() for removal in REMOVAL_WORDS)
    ]
    return removal_actions() + tuple(own)


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


# --- jsonResponseBody ------------------------------------------------------------------


TEMPLATE_HINT = (
    "use mustaches ({{x}}, {{{x}}}), #if, #unless, #each, #with and else, with values "
    "from the response context (requestBody, statusCode, errorMessage, projectKey, "
    "environmentKey, segmentKey, segmentUrl)"
)


def template_problems(manifest: Manifest, template: str) -> list[Diagnostic]:
    where = CAPABILITY + "/jsonResponseBody"
    try:
        lower_template(template)
    except TemplateError as exc:
        return [
            error(
                "unsupported-template",
                manifest.path,
                where,
                f"jsonResponseBody line {exc.line}, column {exc.column}: "
                f"{exc.construct} {exc.reason}",
                exc.hint or TEMPLATE_HINT,
            )
        ]
    if mentions(parse_template(template), "errorMessage"):
        return []
    return [
        warning(
            "response-without-error",
            manifest.path,
            where,
            "jsonResponseBody never uses errorMessage, so a failed request "
            "answers with the same body as a successful one",
            'add the error, e.g. {{#if errorMessage}}"error": "{{errorMessage}}"'
            "{{/if}}",
        )
    ]


# --- pointer lints --------------------------------------------------------------------


def pointer_properties(parser: dict) -> Iterator[tuple[str, str]]:
    """(manifest pointer, value) of every pointer-valued property of a requestParser."""
    for name, value in parser.items():
        if name.endswith("Path") and isinstance(value, str):
            yield PARSER + pointer_join(name), value
    for group, base in (("arrayInclusion", "path"), ("memberArrayParser", None)):
        nested = parser.get(group)
        if not isinstance(nested, dict):
            continue
        for name, value in nested.items():
            if isinstance(value, str) and (name == base or name.endswith("Path")):
                yield PARSER + pointer_join(group, name), value


def bracket_lints(manifest: Manifest, parser: dict) -> list[Diagnostic]:
    problems = []
    for where, pointer in pointer_properties(parser):
        tokens = pointer.split("/")[1:]
        bracketed = [t for t in tokens if BRACKET_TOKEN.fullmatch(t)]
        if not bracketed:
            continue
        fixed = "".join("/" + unbracket(t) for t in tokens)
        problems.append(
            warning(
                "bracket-index",
                manifest.path,
                where,
                f"{json.dumps(pointer)} looks like bracket indexing "
                f"({', '.join(json.dumps(t) for t in bracketed)}), which JSON pointers "
                "do not have: the token is read as a property name",
                f"did you mean {json.dumps(fixed)}? a JSON pointer indexes an array "
                "with a token of its own",
            )
        )
    return problems


def unbracket(token: str) -> str:
    """batch[0] -> batch/0 (a token that is not bracketed stays as it is)."""
    if not BRACKET_TOKEN.fullmatch(token):
        return token
    name, index = token[:-1].split("[")
    return f"{name}/{index}" if name else index
