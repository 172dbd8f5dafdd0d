"""Lower a jsonResponseBody: Handlebars tree -> IR, tracking JSON string context.

Part of the lower stage. Every mustache learns whether it sits inside a JSON string
literal of the template text, so the runtime can JSON-escape (inside) or JSON-encode
(outside) a value whose handlebars.js rendering would not be valid JSON.
"""

from __future__ import annotations

import re
from dataclasses import astuple, dataclass, replace
from itertools import count
from typing import Iterator, Optional, Union

from . import ir
from .handlebars import (
    Block,
    Comment,
    Content,
    Mustache,
    PathExpr,
    Program,
    TemplateError,
)
from .handlebars import parse as parse_template
from .jsonproof import proven_valid
from .literals import comment_text, python_literal


@dataclass(frozen=True)
class JsonState:
    """Where the template text stands: inside a string literal, after a backslash."""

    in_string: bool = False
    escape: bool = False

    def after(self, text: str) -> JsonState:
        in_string, escape = self.in_string, self.escape
        for ch in text:
            if escape:
                escape = False
            elif in_string and ch == "\\":
                escape = True
            elif ch == '"':
                in_string = not in_string
        return JsonState(in_string, escape)


@dataclass(frozen=True)
class LoopNames:
    """The generated variables holding @index, @key, @first and @last of one #each."""

    index: str
    key: str
    first: str
    last: str


@dataclass(frozen=True)
class Scope:
    """What paths can see: the context variables (innermost last) and @data of #each."""

    contexts: tuple[str, ...]
    loop: Optional[LoopNames] = None


def lower_template(source: str) -> ir.ResponseTemplate:
    """The IR of a template; raises TemplateError for what cannot be compiled."""
    names = count(1)
    body, state = lower_program(
        parse_template(source), JsonState(), Scope(("c0",)), names
    )
    if state.in_string:
        raise TemplateError("end of template", *end_position(source),
                            "a JSON string literal is never closed",
                            'close the string with " where it opens')  # fmt: skip
    template = ir.ResponseTemplate(body, comment_text(source), False, ())
    if not proven_valid(template):
        return template
    return replace(template, proven=True, plain_body=plain_nodes(body, count(1)))


def plain_nodes(
    nodes: tuple[ir.ResponseNode, ...], names: Iterator[int]
) -> tuple[ir.ResponseNode, ...]:
    """The body for the plain renderer: stretches of text and mustaches become Runs."""
    result: list[ir.ResponseNode] = []
    stretch: list[Union[ir.Text, ir.Output]] = []
    for node in (*nodes, None):
        if isinstance(node, (ir.Text, ir.Output)):
            stretch.append(node)
            continue
        if stretch:
            result.append(run_of(stretch, names))
            stretch = []
        if node is None:
            break
        result.append(with_plain_branches(node, names))
    return tuple(result)


def with_plain_branches(
    node: Union[ir.Conditional, ir.Each, ir.With, ir.Run], names: Iterator[int]
) -> ir.ResponseNode:
    """A block with plain_nodes of each branch (named in the order then, otherwise, body)."""
    if isinstance(node, ir.Conditional):
        then = plain_nodes(node.then, names)
        return replace(node, then=then, otherwise=plain_nodes(node.otherwise, names))
    if isinstance(node, (ir.Each, ir.With)):
        otherwise = plain_nodes(node.otherwise, names)
        return replace(node, otherwise=otherwise, body=plain_nodes(node.body, names))
    return node


def run_of(stretch: list[Union[ir.Text, ir.Output]], names: Iterator[int]) -> ir.Run:
    reads: list[tuple[str, str, str]] = []
    strings: list[str] = []
    escaped: list[str] = []
    raw: list[str] = []
    scalars: list[str] = []
    parts: list[str] = []
    for node in stretch:
        if isinstance(node, ir.Text):
            parts.append(node.literal)
            continue
        name = f"v{next(names)}"
        reads.append((name, node.expression, node.comment))
        parts.append(name)
        if not node.in_string:
            scalars.append(name)
        else:
            strings.append(name)
            (escaped if node.escaped else raw).append(name)
    return ir.Run(
        reads=tuple(reads),
        strings=tuple(strings),
        escaped_check=" + ".join(escaped),
        raw_check=" + ".join(raw),
        scalars=tuple(scalars),
        concatenation=" + ".join(parts),
    )


def end_position(source: str) -> tuple[int, int]:
    return source.count("\n") + 1, len(source) - (source.rfind("\n") + 1) + 1


def lower_program(
    program: Program, state: JsonState, scope: Scope, names: Iterator[int]
) -> tuple[tuple[ir.ResponseNode, ...], JsonState]:
    nodes: list[ir.ResponseNode] = []
    for node in program.body:
        if isinstance(node, Content):
            if node.value:
                nodes.append(ir.Text(python_literal(node.value), node.value))
                state = state.after(node.value)
        elif isinstance(node, Mustache):
            if state.escape:
                raise TemplateError(mustache_text(node), node.line, node.column,
                                    "a value right after a backslash in a JSON string "
                                    "cannot be escaped",
                                    "remove the backslash before the mustache")  # fmt: skip
            nodes.append(
                ir.Output(
                    expression=path_expression(node.path, scope),
                    escaped=node.escaped,
                    in_string=state.in_string,
                    comment=comment_text(mustache_text(node)),
                )
            )
        elif isinstance(node, Block):
            nodes.append(lower_block(node, state, scope, names))
        else:
            assert isinstance(node, Comment)
    return tuple(nodes), state


def lower_block(
    block: Block, state: JsonState, scope: Scope, names: Iterator[int]
) -> ir.ResponseNode:
    expression = path_expression(block.param, scope)
    written = f"{{{{#{block.helper} {block.param.original}}}}}"
    comment = comment_text(written)

    def branch(program: Optional[Program], inner: Scope) -> tuple[ir.ResponseNode, ...]:
        if program is None:
            return ()
        nodes, end = lower_program(program, state, inner, names)
        if end != state:
            raise TemplateError(written, block.line, block.column,
                                "a branch opens or closes a JSON string literal that "
                                "the other path leaves alone, so the output could not "
                                "be kept valid JSON",
                                "open and close each JSON string inside the same "
                                'branch, e.g. {{#if x}}"a"{{else}}"b"{{/if}}')  # fmt: skip
        return nodes

    if block.helper in ("if", "unless"):
        return ir.Conditional(
            expression,
            block.helper == "unless",
            branch(block.program, scope),
            branch(block.inverse, scope),
            comment,
        )
    n = next(names)
    context = f"c{n}"
    if block.helper == "with":
        inner = Scope(scope.contexts + (context,), scope.loop)
        return ir.With(
            expression,
            context,
            branch(block.program, inner),
            branch(block.inverse, scope),
            comment,
        )
    loop = LoopNames(f"index{n}", f"key{n}", f"first{n}", f"last{n}")
    body = branch(block.program, Scope(scope.contexts + (context,), loop))
    return ir.Each(
        expression=expression,
        items=f"items{n}",
        targets=loop_targets(body, (context, *astuple(loop))),
        body=body,
        otherwise=branch(block.inverse, scope),
        comment=comment,
    )


def loop_targets(body: tuple[ir.ResponseNode, ...], names: tuple[str, ...]) -> str:
    """The for-loop target: the names the body reads, `_` for the others."""
    used = set(re.findall(r"\w+", " ".join(expressions(body))))
    return ", ".join(name if name in used else "_" for name in names)


def expressions(nodes: tuple[ir.ResponseNode, ...]) -> Iterator[str]:
    for node in nodes:
        if isinstance(node, ir.Run):
            yield from (expression for _, expression, _ in node.reads)
        elif not isinstance(node, ir.Text):
            yield node.expression
        for branch in ("then", "otherwise", "body"):
            yield from expressions(getattr(node, branch, ()))


def path_expression(path: PathExpr, scope: Scope) -> str:
    """Python expression of a path's value (None where handlebars.js sees undefined)."""
    if path.data and not path.root:
        if scope.loop is None:
            return "None"
        name: str = getattr(scope.loop, path.parts[0])  # @index, @key, @first, @last
        return name
    if path.root:
        base = "c0"
    elif path.depth < len(scope.contexts):
        base = scope.contexts[-1 - path.depth]
    else:
        return "None"
    expression = base
    for part in path.parts:
        if expression == "c0":  # the response context is always a dict
            expression = f"c0.get({part!r})"
        else:
            expression = f"_runtime.hbs_get({expression}, {part!r})"
    return expression


def mustache_text(node: Mustache) -> str:
    braces = ("{{", "}}") if node.escaped else ("{{{", "}}}")
    return braces[0] + node.path.original + braces[1]
