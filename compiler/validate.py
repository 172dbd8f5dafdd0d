"""Validate: schema, cross-field rules, matcher translation and lints; returns diagnostics."""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Iterator

import jsonschema

from .diagnostics import Diagnostic, error, pointer_join, warning
from .jsregex import UnsupportedRegex, js_test, translate
from .load import Manifest

CAPABILITY = "/capabilities/syncedSegment"
PARSER = CAPABILITY + "/requestParser"
MEMBER_PARSER = PARSER + "/memberArrayParser"

POINTER_HINT = (
    'a JSON pointer is "" or starts with "/", e.g. "/batch/0/cohortId"; '
    'write "~" inside a token as "~0" and "/" as "~1"'
)

# Actions that must never count as "add": a matcher accepting one of these turns a removal
# into an addition (the upstream Tealium manifest does exactly that).
REMOVAL_WORDS = ("remove", "delete", "exit")
REMOVAL_AFFIXES = ("", "s", "d", "_member", "_members", "-member", "-members", "_user")
REMOVAL_PREFIXES = ("", "member_", "members_", "user_", "audience_")

NAMED_ARRAYS = frozenset({"addMemberArrayPath", "removeMemberArrayPath"})
BRACKET_TOKEN = re.compile(r"[^\[\]]*\[\d+\]")


@lru_cache(maxsize=1)
def schema_validator() -> jsonschema.protocols.Validator:
    text = resources.files(__package__).joinpath(
        "schema/synced-segment.schema.json"
    )
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
    if isinstance(template, str) and "errorMessage" not in template:
        problems.append(
            warning(
                "response-without-error",
                manifest.path,
                CAPABILITY + "/jsonResponseBody",
                "jsonResponseBody never uses errorMessage, so a failed request "
                "answers with the same body as a successful one",
                'add the error, e.g. {{#if errorMessage}}"error": "{{errorMessage}}"'
                "{{/if}}",
            )
        )
    return problems


def manifest_shape_problem(manifest: Manifest) -> Diagnostic | None:
    """An error when the manifest is not an object with an object of capabilities."""
    document = manifest.document
    if not isinstance(document, dict):
        return error(
            "manifest-not-object",
            manifest.path,
            "",
            "the manifest must be a JSON object",
            'write the manifest as {"name": ..., "capabilities": {...}}',
        )
    capabilities = document.get("capabilities")
    if "capabilities" in document and not isinstance(capabilities, dict):
        return error(
            "capabilities-not-object",
            manifest.path,
            "/capabilities",
            "capabilities must be an object",
            'write "capabilities": {"syncedSegment": {...}}',
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
        description = problem.schema["properties"][missing].get("description", "")
        yield error(
            "missing-property",
            manifest.path,
            where,
            f'{name} is missing the required property "{missing}"',
            f'add "{missing}": {description}',
        )
    elif kind == "pattern":
        yield error(
            "bad-pointer",
            manifest.path,
            where,
            f"{name} {json.dumps(problem.instance)} is not a valid JSON pointer",
            POINTER_HINT,
        )
    elif kind == "type":
        expected = problem.validator_value
        yield error(
            "wrong-type",
            manifest.path,
            where,
            f"{name} must be {article(expected)}, not {json_type(problem.instance)}",
            f"write {name} as {article(expected)}",
        )
    else:  # no other keyword is in the schema today; say what jsonschema says
        yield error(
            "schema", manifest.path, where, problem.message, "see the schema file"
        )


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


# --- cross-field rules ------------------------------------------------------------------


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
            "memberArrayPath cannot be used with addMemberArrayPath/removeMemberArrayPath",
            "keep either memberArrayPath (one array) or the add/remove pair (two arrays)",
        )
    if "arrayInclusion" in has and "memberArrayPath" not in has:
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
                "booleanMembershipPath needs memberArrayPath",
                "add memberArrayPath pointing at the members that carry the boolean",
            )
        )
    if "memberArrayPath" in has and "arrayInclusion" not in has and not has_boolean:
        rule(
            "membership-undecidable",
            "memberArrayPath",
            "memberArrayPath alone cannot say whether a member is added or removed",
            "add memberArrayParser.booleanMembershipPath (a true/false per member) "
            "or arrayInclusion (one action for the batch)",
        )
    if "memberArrayPath" not in has and not pair:
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


# --- matcher ---------------------------------------------------------------------------


def matcher_problems(manifest: Manifest, parser: dict) -> list[Diagnostic]:
    inclusion = parser.get("arrayInclusion")
    if not isinstance(inclusion, dict) or not isinstance(inclusion.get("matcher"), str):
        return []
    matcher = inclusion["matcher"]
    where = PARSER + "/arrayInclusion/matcher"
    try:
        pattern = translate(matcher)
    except UnsupportedRegex as exc:
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
    accepted = [a for a in removal_actions() if js_test(pattern, a)]
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


# --- pointer lints ---------------------------------------------------------------------


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
        for token in pointer.split("/")[1:]:
            if BRACKET_TOKEN.fullmatch(token):
                name, index = token[:-1].split("[")
                problems.append(
                    warning(
                        "bracket-index",
                        manifest.path,
                        where,
                        f"token {json.dumps(token)} of {json.dumps(pointer)} looks like "
                        "bracket indexing, which JSON pointers do not have",
                        f'index arrays with a token of their own: "/{name}/{index}"',
                    )
                )
    return problems
