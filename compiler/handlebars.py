"""Handlebars: parse a jsonResponseBody template into a tree, as handlebars.js 4 would.

Supports text, `{{path}}`, `{{{path}}}`/`{{& path}}`, comments, `#if`, `#unless`, `#each`,
`#with`, `{{else}}`/`{{^}}`/`{{else if x}}`, `~` whitespace control and handlebars.js's
standalone-line stripping. Anything else raises TemplateError with line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional, Union

BLOCK_HELPERS = ("if", "unless", "each", "with")
# Names handlebars.js resolves to its own helpers before looking at the context.
BUILTIN_HELPERS = ("if", "unless", "each", "with", "log", "lookup", "helperMissing",
                   "blockHelperMissing")  # fmt: skip
DATA_NAMES = ("index", "key", "first", "last")

# JavaScript's \s (WhiteSpace and LineTerminator), which Python's \s does not equal.
JS_SPACE = "\t\n\v\f\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_ID = re.compile(r"[^\s!\"#%-,\./;->@\[-\^`\{-~]+")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?=[~}\s)]|\Z)")
_WORD = re.compile(r"(?:\[[^\]]*\]|[^\s\[])+")


class TemplateError(ValueError):
    """A template the compiler cannot turn into Python with handlebars.js's meaning."""

    def __init__(
        self, construct: str, line: int, column: int, reason: str, hint: str = ""
    ) -> None:
        super().__init__(f"line {line}, column {column}: {construct}: {reason}")
        self.construct = construct
        self.line = line
        self.column = column
        self.reason = reason
        self.hint = hint


@dataclass(frozen=True)
class PathExpr:
    """A path such as `a.b`, `../a`, `this`, `@index`, `@root.a`."""

    original: str
    parts: tuple[str, ...]
    depth: int = 0  # how many `../`
    data: bool = False  # starts with @
    root: bool = False  # @root


# The parse tree is mutable only while whitespace control trims content, as
# handlebars.js's own visitor does; the compiler's IR built from it is frozen.


@dataclass
class Content:
    value: str
    original: str
    left_stripped: bool = False
    right_stripped: bool = False


@dataclass
class Strip:
    open: bool = False
    close: bool = False


@dataclass
class Mustache:
    path: PathExpr
    escaped: bool
    strip: Strip
    line: int
    column: int


@dataclass
class Comment:
    strip: Strip


@dataclass
class Program:
    body: list[Node] = field(default_factory=list)
    chained: bool = False


@dataclass
class Block:
    helper: str
    param: PathExpr
    program: Program
    inverse: Optional[Program]
    open_strip: Strip
    inverse_strip: Strip
    close_strip: Strip
    line: int
    column: int


Node = Union[Content, Mustache, Comment, Block]


def parse(source: str) -> Program:
    """The template's tree after handlebars.js's whitespace control."""
    parser = _Parser(source)
    parser.check_characters()
    program = parser.parse_program()
    _WhitespaceControl().program(program)
    return program


def mentions(program: Program, name: str) -> bool:
    """Whether any mustache or block parameter reads a top-level context name."""
    for node in program.body:
        if isinstance(node, Mustache) and _reads(node.path, name):
            return True
        if isinstance(node, Block):
            if _reads(node.param, name) or mentions(node.program, name):
                return True
            if node.inverse is not None and mentions(node.inverse, name):
                return True
    return False


def _reads(path: PathExpr, name: str) -> bool:
    return not path.data and bool(path.parts) and path.parts[0] == name


# --- lexing and parsing ---------------------------------------------------------------


@dataclass
class _Tag:
    """One `{{...}}` as written: its kind, inner text and strip flags."""

    kind: str  # "mustache", "raw", "comment", "open", "close", "else", "else_chain"
    inner: str
    strip: Strip
    line: int
    column: int
    text: str  # the whole tag, for messages


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0

    # -- positions and errors

    def where(self, pos: int) -> tuple[int, int]:
        line = self.source.count("\n", 0, pos) + 1
        return line, pos - (self.source.rfind("\n", 0, pos) + 1) + 1

    def fail(self, pos: int, construct: str, reason: str) -> TemplateError:
        return TemplateError(construct, *self.where(pos), reason)

    # -- statements

    def check_characters(self) -> None:
        if "\x00" in self.source:
            raise self.fail(self.source.index("\x00"), "NUL", "handlebars.js refuses a "
                            "NUL character in a template")  # fmt: skip

    def parse_program(self, closing: Optional[_Tag] = None) -> Program:
        """Statements up to the end, or up to an else/close tag left in self.pending."""
        program = Program()
        self.pending: Optional[_Tag] = None
        while self.pos < len(self.source):
            text = self.read_content()
            if text is not None:
                program.body.append(text)
                continue
            tag = self.read_tag()
            if tag.kind in ("close", "else", "else_chain"):
                if closing is None:
                    raise self.fail(
                        self.pos - len(tag.text), tag.text, "has no open block"
                    )
                self.pending = tag
                return program
            program.body.append(self.statement(tag))
        if closing is not None:
            raise TemplateError(closing.text, closing.line, closing.column,
                                "is never closed")  # fmt: skip
        return program

    def statement(self, tag: _Tag) -> Node:
        if tag.kind == "comment":
            return Comment(tag.strip)
        if tag.kind == "open":
            return self.block(tag)
        return Mustache(self.mustache_path(tag), tag.kind == "mustache", tag.strip,
                        tag.line, tag.column)  # fmt: skip

    def block(self, tag: _Tag, chained: bool = False) -> Block:
        words = self.words(tag)
        helper = words[0]
        if helper not in BLOCK_HELPERS:
            raise TemplateError(tag.text, tag.line, tag.column,
                                f"the block helper {helper!r} is not supported; use "
                                "#if, #unless, #each or #with")  # fmt: skip
        if len(words) != 2:
            raise TemplateError(tag.text, tag.line, tag.column,
                                f"#{helper} takes exactly one path")  # fmt: skip
        param = self.path(words[1], tag)
        program = self.parse_program(closing=tag)
        end = self.pending_tag()
        inverse = None
        inverse_strip = Strip()
        if end.kind == "else":
            inverse_strip = end.strip
            inverse = self.parse_program(closing=tag)
            end = self.pending_tag()
        elif end.kind == "else_chain":
            inverse_strip = end.strip
            chained_tag = _Tag(
                "open", end.inner, end.strip, end.line, end.column, end.text
            )
            nested = self.block(chained_tag, chained=True)
            inverse = Program([nested], chained=True)
            end = self.pending_tag()
            if chained:
                return self.finish(
                    helper, param, program, inverse, tag, inverse_strip, end
                )
        if chained:
            return self.finish(helper, param, program, inverse, tag, inverse_strip, end)
        if end.kind != "close":
            raise TemplateError(end.text, end.line, end.column, "is not expected here")
        if end.inner.strip() != helper:
            raise TemplateError(end.text, end.line, end.column,
                                f"does not close {tag.text}")  # fmt: skip
        return Block(helper, param, program, inverse, tag.strip, inverse_strip,
                     end.strip, tag.line, tag.column)  # fmt: skip

    def pending_tag(self) -> _Tag:
        """The else or close tag parse_program(closing=...) stopped at."""
        # parse_program raises "is never closed" rather than return without one
        assert self.pending is not None
        return self.pending

    def finish(
        self,
        helper: str,
        param: PathExpr,
        program: Program,
        inverse: Optional[Program],
        tag: _Tag,
        inverse_strip: Strip,
        end: _Tag,
    ) -> Block:
        """A chained `{{else if}}` block shares its parent's close tag (left pending)."""
        self.pending = end
        close_strip = end.strip if end.kind == "close" else Strip()
        return Block(helper, param, program, inverse, tag.strip, inverse_strip,
                     close_strip, tag.line, tag.column)  # fmt: skip

    # -- content and tags

    def read_content(self) -> Optional[Content]:
        """Text up to the next `{{`, with handlebars.js's backslash escapes."""
        start = self.pos
        found = self.source.find("{{", start)
        end = len(self.source) if found < 0 else found
        if end == start:
            return None
        text = self.source[start:end]
        self.pos = end
        if found >= 0 and text.endswith("\\\\"):
            text = text[:-1]  # `\\{{` is a backslash, then a real mustache
        elif found >= 0 and text.endswith("\\"):
            text = text[:-1] + self.escaped_mustache()
        return Content(text, text)

    def escaped_mustache(self) -> str:
        """`\\{{` makes the `{{` and what follows plain text, up to the next mustache."""
        start = self.pos
        following = re.compile(r"\\\\\{\{|\\\{\{|\{\{")
        match = following.search(self.source, start + 2)
        end = len(self.source) if match is None else match.start()
        self.pos = end
        return self.source[start:end]

    def read_tag(self) -> _Tag:
        start = self.pos
        line, column = self.where(start)
        source = self.source
        if source.startswith("{{{{", start):
            raise self.fail(start, "{{{{", "raw blocks are not supported")
        left = source.startswith("{{~", start)
        body_start = start + (3 if left else 2)
        if source.startswith("!--", body_start):
            end = source.find("--", body_start + 3)
            close = re.compile(r"--~?\}\}").search(source, body_start + 3)
            if close is None:
                raise self.fail(start, "{{!--", "the comment is never closed")
            end = close.end()
            right = source[close.start() + 2] == "~"
            self.pos = end
            return _Tag(
                "comment", "", Strip(left, right), line, column, source[start:end]
            )
        unescaped = source.startswith("{", body_start)
        close_re = re.compile(r"\}~?\}\}" if unescaped else r"~?\}\}")
        close = close_re.search(source, body_start)
        if close is None:
            raise self.fail(start, source[start : start + 3], "is never closed")
        if not unescaped and source.startswith("}", close.end()):
            raise self.fail(close.start(), "}}}", "closes a {{{triple-stash}}} that "
                            "was never opened")  # fmt: skip
        right = "~" in close.group()
        inner = source[body_start + (1 if unescaped else 0) : close.start()]
        self.pos = close.end()
        text = source[start : close.end()]
        strip = Strip(left, right)
        if unescaped:
            return _Tag("raw", inner, strip, line, column, text)
        first = inner[:1]
        if first == "!":
            return _Tag("comment", "", strip, line, column, text)
        if first in (">", "*") or inner.startswith(("#>", "#*")):
            raise TemplateError(text, line, column, "partials and decorators are "
                                "not supported")  # fmt: skip
        if first == "#":
            return _Tag("open", inner[1:], strip, line, column, text)
        if first == "/":
            return _Tag("close", inner[1:], strip, line, column, text)
        if first == "&":
            return _Tag("raw", inner[1:], strip, line, column, text)
        if first == "^":
            if inner[1:].strip(JS_SPACE_CHARS):
                raise TemplateError(text, line, column, "inverted sections are not "
                                    "supported; use #unless")  # fmt: skip
            return _Tag("else", "", strip, line, column, text)
        stripped = inner.strip(JS_SPACE_CHARS)
        if stripped == "else":
            return _Tag("else", "", strip, line, column, text)
        if re.match(r"else[" + JS_SPACE + r"]", stripped):
            return _Tag("else_chain", stripped[4:], strip, line, column, text)
        return _Tag("mustache", inner, strip, line, column, text)

    # -- expressions

    def words(self, tag: _Tag) -> list[str]:
        """The tag's words, split on whitespace outside [segment literals]."""
        words = _WORD.findall(tag.inner)
        if not words or _WORD.sub("", tag.inner).strip():  # e.g. an unclosed [
            raise TemplateError(tag.text, tag.line, tag.column, "is not a path")
        for word in words:
            if word.startswith(("(", '"', "'")) or "=" in word or "|" in word:
                raise TemplateError(tag.text, tag.line, tag.column, "literals, "
                                    "subexpressions, hash arguments and block "
                                    "parameters are not supported")  # fmt: skip
        return words

    def mustache_path(self, tag: _Tag) -> PathExpr:
        words = self.words(tag)
        if len(words) > 1:
            raise TemplateError(tag.text, tag.line, tag.column,
                                f"calls the helper {words[0]!r}; helpers are not "
                                "supported")  # fmt: skip
        path = self.path(words[0], tag)
        if (
            not path.data
            and path.depth == 0
            and path.parts[:1] in [(name,) for name in BUILTIN_HELPERS]
        ):
            raise TemplateError(tag.text, tag.line, tag.column,
                                f"{path.parts[0]!r} names a handlebars.js helper, not "
                                "a value")  # fmt: skip
        return path

    def path(self, word: str, tag: _Tag) -> PathExpr:
        def bad(reason: str) -> TemplateError:
            return TemplateError(tag.text, tag.line, tag.column, reason)

        number = _NUMBER.match(word)
        if (number and number.end() == len(word)) or word in ("true", "false", "null",
                                                              "undefined"):  # fmt: skip
            raise bad("literals are not supported")
        data = word.startswith("@")
        rest = word[1:] if data else word
        split = split_path(rest)
        if split is None:
            raise bad(f"{word!r} is not a path")
        segments, literal = split
        if len(segments) > 1 and not literal[-1] and _NUMBER.fullmatch(segments[-1]):
            raise bad(f"{word!r}: handlebars.js cannot parse a number as the last "
                      f"segment; write [{segments[-1]}] instead")  # fmt: skip
        depth = 0
        while segments and segments[0] == ".." and not literal[0]:
            depth += 1
            segments, literal = segments[1:], literal[1:]
        if segments and segments[0] in (".", "this") and not literal[0] and not data:
            segments, literal = segments[1:], literal[1:]
        if any(
            s in ("..", ".", "this") for s, lit in zip(segments, literal) if not lit
        ):
            raise bad(f"{word!r}: '..', '.' and 'this' may only start a path")
        if data:
            if depth or not segments:
                raise bad(f"{word!r} is not supported")
            if segments[0] == "root":
                return PathExpr(word, tuple(segments[1:]), 0, True, True)
            if segments[0] not in DATA_NAMES or len(segments) > 1:
                raise bad(f"@{segments[0]} is not supported; use @index, @key, "
                          "@first, @last or @root")  # fmt: skip
        return PathExpr(word, tuple(segments), depth, data)


# The characters of JS_SPACE, for str.strip (the same set, spelled out).
JS_SPACE_CHARS = (
    "\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def split_path(text: str) -> Optional[tuple[list[str], list[bool]]]:
    """Segments of `a.b/[c d]`, `../x`, `this.y`, and which were [literals]; None if
    it is not a path."""
    segments: list[str] = []
    literal: list[bool] = []
    pos = 0
    while pos < len(text):
        if text.startswith("..", pos):
            segments.append("..")
            pos += 2
            literal.append(False)
        elif text[pos] == "[":
            end = text.find("]", pos)
            if end < 0:
                return None
            if end == pos + 1:
                return None  # [] names nothing
            segments.append(text[pos + 1 : end])
            literal.append(True)
            pos = end + 1
        elif text[pos] == ".":
            segments.append(".")
            literal.append(False)
            pos += 1
        else:
            match = _ID.match(text, pos)
            if match is None:
                return None
            segments.append(match.group())
            literal.append(False)
            pos = match.end()
        if pos < len(text):
            if text[pos] not in "./":
                return None
            pos += 1
            if pos == len(text):
                return None
    return segments, literal


# --- whitespace control (handlebars.js's WhitespaceControl visitor) --------------------

_PREV_WS = re.compile(r"\r?\n[" + JS_SPACE + r"]*?\Z")
_PREV_WS_ROOT = re.compile(r"(?:\A|\r?\n)[" + JS_SPACE + r"]*?\Z")
_NEXT_WS = re.compile(r"\A[" + JS_SPACE + r"]*?\r?\n")
_NEXT_WS_ROOT = re.compile(r"\A[" + JS_SPACE + r"]*?(?:\r?\n|\Z)")
_LEADING_SPACE = re.compile(r"\A[" + JS_SPACE + r"]+")
_TRAILING_SPACE = re.compile(r"[" + JS_SPACE + r"]+\Z")
_LEADING_LINE = re.compile(r"\A[ \t]*\r?\n?")
_TRAILING_INDENT = re.compile(r"[ \t]+\Z")


def _is_prev_whitespace(
    body: list[Node], i: Optional[int] = None, root: bool = False
) -> bool:
    i = len(body) if i is None else i
    prev = body[i - 1] if i - 1 >= 0 else None
    sibling = body[i - 2] if i - 2 >= 0 else None
    if prev is None:
        return root
    if isinstance(prev, Content):
        pattern = _PREV_WS if sibling is not None or not root else _PREV_WS_ROOT
        return bool(pattern.search(prev.original))
    return False


def _is_next_whitespace(
    body: list[Node], i: Optional[int] = None, root: bool = False
) -> bool:
    i = -1 if i is None else i
    following = body[i + 1] if i + 1 < len(body) else None
    sibling = body[i + 2] if i + 2 < len(body) else None
    if following is None:
        return root
    if isinstance(following, Content):
        pattern = _NEXT_WS if sibling is not None or not root else _NEXT_WS_ROOT
        return bool(pattern.search(following.original))
    return False


def _omit_right(
    body: list[Node], i: Optional[int] = None, multiple: bool = False
) -> None:
    index = 0 if i is None else i + 1
    current = body[index] if index < len(body) else None
    if not isinstance(current, Content) or (not multiple and current.right_stripped):
        return
    original = current.value
    pattern = _LEADING_SPACE if multiple else _LEADING_LINE
    current.value = pattern.sub("", current.value, count=1)
    current.right_stripped = current.value != original


def _omit_left(
    body: list[Node], i: Optional[int] = None, multiple: bool = False
) -> bool:
    index = len(body) - 1 if i is None else i - 1
    current = body[index] if 0 <= index < len(body) else None
    if not isinstance(current, Content) or (not multiple and current.left_stripped):
        return False
    original = current.value
    pattern = _TRAILING_SPACE if multiple else _TRAILING_INDENT
    current.value = pattern.sub("", current.value, count=1)
    current.left_stripped = current.value != original
    return current.left_stripped


def _chained_block(program: Program, index: int) -> Block:
    """A block of a chained `{{else if}}` program (which holds blocks only)."""
    node = program.body[index]
    assert isinstance(node, Block)
    return node


class _WhitespaceControl:
    """Port of handlebars.js 4's whitespace-control visitor (`~` and standalone lines)."""

    def __init__(self) -> None:
        self.root_seen = False

    def program(self, program: Program) -> None:
        root = not self.root_seen
        self.root_seen = True
        body = program.body
        for i, current in enumerate(body):
            strip = self.accept(current)
            if strip is None:
                continue
            prev_ws = _is_prev_whitespace(body, i, root)
            next_ws = _is_next_whitespace(body, i, root)
            open_standalone = strip.get("openStandalone") and prev_ws
            close_standalone = strip.get("closeStandalone") and next_ws
            inline_standalone = strip.get("inlineStandalone") and prev_ws and next_ws
            if strip.get("close"):
                _omit_right(body, i, True)
            if strip.get("open"):
                _omit_left(body, i, True)
            if inline_standalone:
                _omit_right(body, i)
                _omit_left(body, i)
            if open_standalone:
                assert isinstance(current, Block)  # only blocks have openStandalone
                # handlebars.js: (program || inverse); a Block here always has a program
                _omit_right(current.program.body)
                _omit_left(body, i)
            if close_standalone:
                assert isinstance(current, Block)  # only blocks have closeStandalone
                _omit_right(body, i)
                _omit_left((current.inverse or current.program).body)

    def accept(self, node: Node) -> Optional[dict[str, bool]]:
        if isinstance(node, Mustache):
            return {"open": node.strip.open, "close": node.strip.close}
        if isinstance(node, Comment):
            return {"inlineStandalone": True, "open": node.strip.open,
                    "close": node.strip.close}  # fmt: skip
        if isinstance(node, Block):
            return self.block(node)
        return None

    def block(self, block: Block) -> dict[str, bool]:
        self.program(block.program)
        if block.inverse is not None:
            self.program(block.inverse)
        program = block.program
        inverse = block.inverse
        first_inverse = last_inverse = inverse
        if inverse is not None and inverse.chained:
            first_inverse = _chained_block(inverse, 0).program
            last = inverse
            while last.chained:
                last = _chained_block(last, -1).program
            last_inverse = last
        strip = {
            "open": block.open_strip.open,
            "close": block.close_strip.close,
            "openStandalone": _is_next_whitespace(program.body),
            "closeStandalone": _is_prev_whitespace((first_inverse or program).body),
        }
        if block.open_strip.close:
            _omit_right(program.body, None, True)
        if first_inverse is not None and last_inverse is not None:  # an inverse
            if block.inverse_strip.open:
                _omit_left(program.body, None, True)
            if block.inverse_strip.close:
                _omit_right(first_inverse.body, None, True)
            if block.close_strip.open:
                _omit_left(last_inverse.body, None, True)
            if _is_prev_whitespace(program.body) and _is_next_whitespace(
                first_inverse.body
            ):
                _omit_left(program.body)
                _omit_right(first_inverse.body)
        elif block.close_strip.open:
            _omit_left(program.body, None, True)
        return strip
