"""Validate: schema, cross-field rules, the matcher and lints; returns diagnostics.

The lints live beside it, one module per kind of mistake: pointer_lints (spellings,
member paths, values read from one place), matcher_lints (regex literals, anchors
that never hold, removals taken for additions) and template_lints (names no response
context has, body paths no pointer reads).
"""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Iterator, Mapping

import jsonschema

from .diagnostics import Diagnostic, error, pointer_join, warning
from .handlebars import TemplateError
from .handlebars import parse as parse_template
from .jsregex import UnsupportedRegex, translate
from .load import Manifest
from .lower_response import lower_template
from .matcher_lints import backtracking, matcher_lints
from .pointer_lints import (
    member_lints,
    overlap_lints,
    spelling_lints,
    suggested_pointer,
)
from .template_lints import error_range, template_lints

CAPABILITY = "/capabilities/syncedSegment"
PARSER = CAPABILITY + "/requestParser"
MEMBER_PARSER = PARSER + "/memberArrayParser"

POINTER_HINT = (
    'a JSON pointer is "" or starts with "/", e.g. "/batch/0/cohortId"; '
    'write "~" inside a token as "~0" and "/" as "~1"'
)

NAMED_ARRAYS = frozenset({"addMemberArrayPath", "removeMemberArrayPath"})
CONTEXT_KIND = re.compile(r"[A-Za-z0-9._-]+")  # a kind written where its pointer goes
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
    if not isinstance(parser, dict):
        return problems
    problems += cross_field_problems(manifest, parser)
    problems += matcher_problems(manifest, parser)
    problems += spelling_lints(manifest, parser)
    problems += member_lints(manifest, parser)
    problems += overlap_lints(manifest, parser)
    template = capability.get("jsonResponseBody")
    if isinstance(template, str):
        problems += template_problems(manifest, parser, template)
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
    if isinstance(capabilities, dict) and "syncedSegment" not in capabilities:
        return capability_typo(manifest, capabilities)
    return None


def capability_typo(
    manifest: Manifest, capabilities: dict[str, Any]
) -> Diagnostic | None:
    """A capability spelled almost like syncedSegment (seeds/002 itself writes
    "syncedSegments"): skipping it as another capability would ship no parser."""
    for name in capabilities:
        folded = re.sub(r"[^a-z]", "", name.lower())
        if (
            folded != "syncedsegment"
            and difflib.SequenceMatcher(None, folded, "syncedsegment").ratio() < 0.85
        ):
            continue
        return error(
            "capability-typo",
            manifest.path,
            "/capabilities" + pointer_join(name),
            f'capability "{name}" is not "syncedSegment", so this manifest would be '
            "skipped and no parser made",
            f'rename "{name}" to "syncedSegment"',
            at_key=True,
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
    # the stubs allow "unset" for errors made by hand; iter_errors always sets these
    instance: Any = problem.instance
    schema = problem.schema if isinstance(problem.schema, Mapping) else {}
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        for extra in sorted(set(instance) - set(allowed)):
            close = difflib.get_close_matches(extra, allowed, n=1)
            hint = f'did you mean "{close[0]}"? ' if close else ""
            yield error(
                "unknown-property",
                manifest.path,
                where + pointer_join(extra),
                f'unknown property "{extra}" in {name}',
                hint + "allowed here: " + ", ".join(allowed),
                at_key=True,
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
            at_key=True,
        )
    elif kind == "pattern":
        fixed = suggested_pointer(instance)
        hint = f"did you mean {json.dumps(fixed)}? " + POINTER_HINT
        if name == "contextKindPath" and CONTEXT_KIND.fullmatch(instance):
            hint = (
                "contextKindPath is where the body holds the context kind, not the "
                'kind itself: for "user", remove it (user is the default); a manifest '
                "cannot name another kind, so the body must carry it, e.g. at "
                f"{json.dumps(fixed)}"
            )
        yield error(
            "bad-pointer",
            manifest.path,
            where,
            f"{name} {json.dumps(instance)} is not a valid JSON pointer: "
            + pointer_flaw(instance),
            hint,
            replacement=fixed,
        )
    elif kind == "type":
        expected: Any = problem.validator_value  # the schema's "type": one name
        yield error(
            "wrong-type",
            manifest.path,
            where,
            f"{name} must be {article(expected)}, not {json_type(instance)}",
            f"write {name} as {article(expected)}: "
            + value_hint(*schema_at(problem.absolute_path)),
        )
    else:  # no other keyword is in the schema today; say what jsonschema says
        yield error(
            "schema", manifest.path, where, problem.message, "see the schema file"
        )


def schema_at(tokens: Iterable[str | int]) -> tuple[dict[str, Any], str]:
    """The schema of the property at an instance path, with $ref followed, and its
    description (which sits beside the $ref); the root's description is for maintainers.
    """
    root = schema_validator().schema
    assert isinstance(root, dict)  # compiler/schema/'s file is an object
    node, description = root, ""
    for token in tokens:
        node = node["properties"][token]
        description = node.get("description", "")
        if "$ref" in node:
            node = root["$defs"][node["$ref"].removeprefix("#/$defs/")]
        description = description or node.get("description", "")
    return node, description


def value_hint(schema: dict[str, Any], description: str) -> str:
    """What a property's value looks like: an object's required keys, or its meaning."""
    if schema.get("type") == "object":
        keys = ", ".join(f'"{name}": ...' for name in schema.get("required", []))
        return "{" + keys + "}" + (f" ({description})" if description else "")
    return description or article(schema["type"])


def pointer_flaw(pointer: str) -> str:
    if pointer.startswith("$"):
        return "it is JSONPath, not a JSON pointer"
    if pointer.startswith("#"):
        return "it is a URI fragment; the pointer is what follows the #"
    if not pointer.startswith("/"):
        return 'it does not start with "/"'
    return '"~" must be followed by 0 or 1 (an escape)'


def article(json_type_name: str) -> str:
    return ("an " if json_type_name[0] in "aeiou" else "a ") + json_type_name


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


# --- cross-field rules ----------------------------------------------------------------


def cross_field_problems(
    manifest: Manifest, parser: dict[str, Any]
) -> list[Diagnostic]:
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


def matcher_problems(manifest: Manifest, parser: dict[str, Any]) -> list[Diagnostic]:
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
                within=(exc.position, exc.position + 1),
            )
        ]
    errors = backtracking(manifest.path, matcher)
    return errors + matcher_lints(manifest, parser, pattern)


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
        within=(exc.position, exc.position + 1),
    )


# --- jsonResponseBody ------------------------------------------------------------------


TEMPLATE_HINT = (
    "use mustaches ({{x}}, {{{x}}}), #if, #unless, #each, #with and else, with values "
    "from the response context (requestBody, statusCode, errorMessage, projectKey, "
    "environmentKey, segmentKey, segmentUrl)"
)


def template_problems(
    manifest: Manifest, parser: dict[str, Any], template: str
) -> list[Diagnostic]:
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
                within=error_range(template, exc.line, exc.column, exc.construct),
            )
        ]
    return template_lints(manifest, parser, template, parse_template(template))
