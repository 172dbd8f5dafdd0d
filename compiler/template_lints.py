"""Template lints: jsonResponseBody mustaches that always render "".

Part of validate. handlebars.js renders a name the context lacks as "", so a typo
(`{{segmntKey}}`) or a body field the partner never sends (`{{requestBody.environmentId}}`
in a body that holds it at `/parameters/integration_project_id`) passes every build and
answers with an empty value forever. The walk follows handlebars.js's scopes: `#each`
and `#with` change the context, `../` and `@root` climb back, `@index` and friends live
inside `#each` only, and a path into an unknown context (an array's members, a value
the body may or may not have) is left alone.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from .diagnostics import Diagnostic, pointer_join, warning
from .handlebars import BUILTIN_HELPERS, Block, Mustache, PathExpr, Program, mentions
from .load import Manifest
from .pointer_lints import (
    ARRAYS,
    INDEX,
    example_documents,
    member_values,
    request_values,
)
from .positions import pointer_tokens

WHERE = "/capabilities/syncedSegment/jsonResponseBody"
CONTEXT_NAMES = ("requestBody", "statusCode", "errorMessage", "projectKey",
                 "environmentKey", "segmentKey", "segmentUrl")  # fmt: skip
EACH_ITEM = "*"  # a path step standing for every item of an #each
Context = Optional[tuple[str, ...]]  # steps from the response context; None: unknown
_HBS_ID = re.compile(r"[^\s!\"#%-,\./;->@\[-\^`\{-~]+")


@dataclass(frozen=True)
class Scope:
    contexts: tuple[Context, ...] = ((),)
    in_each: bool = False


@dataclass(frozen=True)
class Use:
    """One path as written in the template, where it is, and what it reads."""

    path: PathExpr
    line: int
    column: int
    scope: Scope


def template_lints(
    manifest: Manifest, parser: dict[str, Any], template: str, tree: Program
) -> list[Diagnostic]:
    """Unknown names, unread body paths, and no errorMessage, for a parsed template."""
    problems = []
    reads = read_pointers(parser)
    for use in uses(tree, Scope()):
        problem = use_problem(manifest, parser, template, use, reads)
        if problem is not None:
            problems.append(problem)
    if not mentions(tree, "errorMessage"):
        problems.append(
            warning(
                "response-without-error",
                manifest.path,
                WHERE,
                "jsonResponseBody never uses errorMessage, so a failed request "
                "answers with the same body as a successful one",
                'add the error, e.g. {{#if errorMessage}}"error": "{{errorMessage}}"'
                "{{/if}}",
            )
        )
    return problems


# --- the walk ----------------------------------------------------------------------------


def uses(program: Program, scope: Scope) -> Iterator[Use]:
    for node in program.body:
        if isinstance(node, Mustache):
            yield Use(node.path, node.line, node.column, scope)
        elif isinstance(node, Block):
            yield Use(node.param, node.line, node.column, scope)
            yield from uses(node.program, inner_scope(node, scope))
            if node.inverse is not None:
                yield from uses(node.inverse, scope)


def inner_scope(block: Block, scope: Scope) -> Scope:
    if block.helper in ("if", "unless"):
        return scope
    context = context_of(block.param, scope)
    if block.helper == "each":
        item = None if context is None else context + (EACH_ITEM,)
        return Scope(scope.contexts + (item,), True)
    return Scope(scope.contexts + (context,), scope.in_each)


def context_of(path: PathExpr, scope: Scope) -> Context:
    """The steps from the response context that a path reads, or None if unknown."""
    if path.data and not path.root:
        return None
    if path.root:
        base: Context = ()
    elif path.depth < len(scope.contexts):
        base = scope.contexts[-1 - path.depth]
    else:
        return None
    return None if base is None else base + path.parts


# --- one use -----------------------------------------------------------------------------


def use_problem(
    manifest: Manifest,
    parser: dict[str, Any],
    template: str,
    use: Use,
    reads: list[tuple[str, ...]],
) -> Optional[Diagnostic]:
    path = use.path
    within = tag_range(template, use.line, use.column)
    if path.data and not path.root:
        if use.scope.in_each:
            return None
        return unknown_name(manifest, template, use, within, f"@{path.parts[0]} is only "
                            "set inside #each", None)  # fmt: skip
    if not path.root and path.depth >= len(use.scope.contexts):
        return unknown_name(manifest, template, use, within, f"{path.original!r} climbs "
                            "above the response context with ../", None)  # fmt: skip
    steps = context_of(path, use.scope)
    if not steps:
        return None  # an unknown context, or {{this}}
    if steps[0] not in CONTEXT_NAMES:
        return typo(manifest, template, use, within, steps[0])
    if steps[0] != "requestBody" or body_is_read(steps[1:], reads):
        return None
    if any(
        matches_document(doc, list(steps[1:])) for doc in example_documents(manifest)
    ):
        return None
    return unread_body(manifest, parser, template, use, within, steps[1:])


def typo(
    manifest: Manifest, template: str, use: Use, within: tuple[int, int], name: str
) -> Diagnostic:
    close = difflib.get_close_matches(name, CONTEXT_NAMES, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(
            name.lower(), [n.lower() for n in CONTEXT_NAMES], n=1
        )
        close = [n for n in CONTEXT_NAMES if close and n.lower() == close[0]]
    meant = close[0] if close else None
    reason = f'no response context has {name!r}, so it always renders ""'
    return unknown_name(manifest, template, use, within, reason, meant, name)


def unknown_name(
    manifest: Manifest,
    template: str,
    use: Use,
    within: tuple[int, int],
    reason: str,
    meant: Optional[str],
    name: str = "",
) -> Diagnostic:
    written = template[within[0] : within[1]]
    replacement = None
    if meant is not None:
        fixed_tag = written.replace(name, meant, 1)
        replacement = template[: within[0]] + fixed_tag + template[within[1] :]
        hint = f"did you mean {fixed_tag}? "
    elif use.path.data:
        hint = f"move {written} inside an {{{{#each ...}}}} block, or remove it; "
    else:
        hint = f"remove a ../ from {written}; "
    return warning(
        "template-unknown-name",
        manifest.path,
        WHERE,
        f"jsonResponseBody line {use.line}, column {use.column}: {written} reads a "
        f"name that is never set: {reason}",
        hint
        + "the response context has "
        + ", ".join(CONTEXT_NAMES)
        + "; inside #each and #with, ../ reaches the outer context",
        within=within,
        replacement=replacement,
    )


# --- requestBody paths ---------------------------------------------------------------------


def read_pointers(parser: dict[str, Any]) -> list[tuple[str, ...]]:
    """The token lists of every pointer the manifest reads, member paths under each
    member array (as EACH_ITEM), so that a template can be checked against them."""
    values = request_values(parser)
    reads = [tuple(pointer_tokens(p)) for p in values.values()]
    members = parser.get("memberArrayParser")
    if isinstance(members, dict):
        for array in (values[name] for name in ARRAYS if name in values):
            for path in member_values(members).values():
                reads.append((*pointer_tokens(array), EACH_ITEM, *pointer_tokens(path)))
    return reads


def body_is_read(steps: tuple[str, ...], reads: list[tuple[str, ...]]) -> bool:
    """Whether some pointer of the manifest reads this body path or inside it."""
    if steps and steps[-1] == "length":  # an array's or a string's length
        steps = steps[:-1]
    return any(
        len(steps) <= len(read) and all(same_step(s, r) for s, r in zip(steps, read))
        for read in reads
    )


def same_step(step: str, read: str) -> bool:
    """An #each item (of an array or an object) stands for any step, and a member of
    a member array for any index."""
    if step in (read, EACH_ITEM):
        return True
    return read == EACH_ITEM and INDEX.fullmatch(step) is not None


def matches_document(value: object, steps: list[str]) -> bool:
    """Whether an example body has a value along these steps (EACH_ITEM: any item)."""
    if not steps:
        return True
    step, rest = steps[0], steps[1:]
    if step == EACH_ITEM:
        items = (
            value
            if isinstance(value, list)
            else (list(value.values()) if isinstance(value, dict) else [])
        )
        return any(matches_document(item, rest) for item in items)
    if isinstance(value, dict) and step in value:
        return matches_document(value[step], rest)
    if isinstance(value, list) and INDEX.fullmatch(step) and int(step) < len(value):
        return matches_document(value[int(step)], rest)
    return step == "length" and not rest and isinstance(value, (list, str))


def unread_body(
    manifest: Manifest,
    parser: dict[str, Any],
    template: str,
    use: Use,
    within: tuple[int, int],
    steps: tuple[str, ...],
) -> Diagnostic:
    written = template[within[0] : within[1]]
    pointer = pointer_join(*(s if s != EACH_ITEM else "0" for s in steps))
    meant = meant_value(parser, steps)
    replacement = None
    hint = ("point the mustache at a field the body has, e.g. one a pointer of the "
            "manifest reads, or add an example body that has it in examples/")  # fmt: skip
    if meant is not None:
        name, read = meant
        expression = handlebars_path(("requestBody", *pointer_tokens(read)))
        direct = use.scope.contexts == ((),) and not use.path.root
        if expression is not None:
            hint = f"{name} reads {json.dumps(read)}: write {{{{{expression}}}}}"
            if direct:
                fixed_tag = written.replace(use.path.original, expression, 1)
                replacement = template[: within[0]] + fixed_tag + template[within[1] :]
                hint = f"{name} reads {json.dumps(read)}: did you mean {fixed_tag}?"
    return warning(
        "template-unread-body",
        manifest.path,
        WHERE,
        f"jsonResponseBody line {use.line}, column {use.column}: {written} reads "
        f"requestBody at {json.dumps(pointer)}, which no pointer of the manifest "
        'reads: if the body does not have it, it renders ""',
        hint,
        within=within,
        replacement=replacement,
    )


def meant_value(
    parser: dict[str, Any], steps: tuple[str, ...]
) -> Optional[tuple[str, str]]:
    """The (property, pointer) the manifest reads that this body path most likely
    means: the property named after it (environmentId: environmentIdPath), or the
    pointer ending in the same or a close key."""
    last = steps[-1] if steps else ""
    values = {n: p for n, p in request_values(parser).items() if n not in ARRAYS and p}
    by_name = {normal(value_name(n)): n for n in values}
    if normal(last) in by_name:
        name = by_name[normal(last)]
        return name.replace("/", "."), values[name]
    by_key = {pointer_tokens(p)[-1]: n for n, p in values.items()}
    close = difflib.get_close_matches(last, list(by_key), n=1, cutoff=0.75)
    if close:
        name = by_key[close[0]]
        return name.replace("/", "."), values[name]
    return None


def value_name(property_name: str) -> str:
    """What a property's value is called in a body: cohortIdPath -> cohortId."""
    if property_name == "arrayInclusion/path":
        return "action"
    return property_name.removesuffix("Path")


def normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def handlebars_path(tokens: tuple[str, ...]) -> Optional[str]:
    """A Handlebars path reading these keys (`[0]` for an index), None if none can."""
    parts: list[str] = []
    for token in tokens:
        if (
            _HBS_ID.fullmatch(token)
            and not token.isdigit()
            and token not in BUILTIN_HELPERS
        ):
            parts.append(token)
        elif token and "]" not in token:
            parts.append(f"[{token}]")
        else:
            return None
    return ".".join(parts)


# --- positions inside the template ---------------------------------------------------------


def tag_range(template: str, line: int, column: int) -> tuple[int, int]:
    """[start, end) in the template of the tag at a handlebars (line, column)."""
    starts = [0] + [m.end() for m in re.finditer("\n", template)]
    start = starts[min(line, len(starts)) - 1] + column - 1
    end = template.find("}}", start)
    if end < 0:
        return start, min(start + 2, len(template))
    end += 2
    if template.startswith("{{{", start) and template.startswith("}", end):
        end += 1
    return start, end


def error_range(
    template: str, line: int, column: int, construct: str
) -> tuple[int, int]:
    """The range a TemplateError names: its construct where it is written, else 1."""
    starts = [0] + [m.end() for m in re.finditer("\n", template)]
    start = starts[min(line, len(starts)) - 1] + column - 1
    if construct and template.startswith(construct, start):
        return start, start + len(construct)
    return start, min(start + 1, len(template))
