"""Format: black, in-process, with a pinned mode (never the user's configuration).

black is most of a build's time, and generated modules differ mostly in the text of their
string literals and comments. So each module is formatted through its *shape*: the same
source with every such token that black treats by its length alone replaced by a
placeholder of the same length, the same quotes and the same whitespace. Modules with one
shape are formatted by black once, and each gets its own tokens back in place of the
placeholders. The result is byte for byte what black gives the module itself
(tests/test_format.py checks that against plain `black.format_str`); where a restore
cannot be proven to line up, the module is formatted directly. When many distinct texts
remain for black, they are formatted across processes.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Optional, Union

if TYPE_CHECKING:
    import black


class FormatError(ValueError):
    """The compiler produced text that is not Python (a compiler bug)."""


@lru_cache(maxsize=1)
def mode() -> black.Mode:
    import black  # here: black is imported only when something is formatted
    from black.mode import TargetVersion

    # Generated code must run on CPython 3.9+; pinning the mode keeps output identical
    # wherever the compiler runs, whatever pyproject.toml sits nearby.
    return black.Mode(
        target_versions={TargetVersion.PY39},
        line_length=88,
        string_normalization=True,
        magic_trailing_comma=True,
    )


# Remembered: a build formats the runtime and the package's __init__ to the same text every
# time, and tests and the playground compile again and again in one process.
@lru_cache(maxsize=256)
def format_source(source: str) -> str:
    """The black-formatted text; raises FormatError if it is not Python."""
    import black
    from black.parsing import InvalidInput

    try:
        return black.format_str(source, mode=mode())
    except InvalidInput as exc:
        raise FormatError(str(exc)) from exc


# Comments and string literals, in source order. Generated code holds no other quotes
# or hashes outside them, so a left-to-right scan finds every one exactly.
_TOKEN = re.compile(
    r"""(?P<comment>\#[^\r\n]*)
    | (?<![\w])(?P<prefix>[A-Za-z]{0,2})(?P<string>
        '''(?:[^\\]|\\[\s\S])*?''' | \"\"\"(?:[^\\]|\\[\s\S])*?\"\"\"
        | '(?:[^'\\\n]|\\.)*' | "(?:[^"\\\n]|\\.)*")""",
    re.VERBOSE,
)
_KEPT = frozenset(" \t\r\n\f\v'\"")  # what a placeholder keeps: whitespace and quotes
# Comments black reads (pragmas, fmt directives) keep their text in the shape.
_PRAGMA = re.compile(r"(type|noqa|pylint|fmt|yapf)\s*:|noqa", re.IGNORECASE)
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e\t\r\n]*")
_ID_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


# With this many distinct texts for black or more, they are formatted across processes.
PARALLEL_FROM = 48
Progress = Callable[[int, int], None]  # (files formatted so far, files to format)


def format_sources(
    sources: dict[str, str], shaped: set[str], progress: Optional[Progress] = None
) -> tuple[dict[str, str], dict[str, FormatError]]:
    """Every source formatted as format_source would, and the names that are not Python.

    Sources named in shaped (parser modules) go through their shapes. The distinct
    texts black has to format are formatted across processes when there are many.
    """
    shapes = {name: _shape(sources[name]) for name in sources if name in shaped}
    jobs: dict[str, None] = {}  # distinct texts for black, in order
    for name, source in sources.items():
        shaped_source = shapes.get(name)
        jobs[source if shaped_source is None else shaped_source[0]] = None
    formatted = _black_all(list(jobs))
    files: dict[str, str] = {}
    problems: dict[str, FormatError] = {}
    for done, (name, source) in enumerate(sources.items(), 1):
        shaped_source = shapes.get(name)
        text = formatted[source if shaped_source is None else shaped_source[0]]
        if shaped_source is not None and not isinstance(text, FormatError):
            restored = _restore(text, shaped_source[1])
            # not proven to line up: the module by itself
            text = restored if restored is not None else _black_or_error(source)
        if isinstance(text, FormatError):
            problems[name] = text
        else:
            files[name] = text
        if progress is not None:
            progress(done, len(sources))
    return files, problems


def format_each(
    sources: dict[str, str],
    formatter: Optional[Callable[[str], str]],
    progress: Optional[Progress] = None,
) -> tuple[dict[str, str], dict[str, FormatError]]:
    """format_sources with another formatter (None: the text as it is), file by file."""
    files: dict[str, str] = {}
    problems: dict[str, FormatError] = {}
    for done, (name, source) in enumerate(sources.items(), 1):
        try:
            files[name] = source if formatter is None else formatter(source)
        except FormatError as exc:
            problems[name] = exc
        if progress is not None:
            progress(done, len(sources))
    return files, problems


def _black_or_error(source: str) -> Union[str, FormatError]:
    try:
        return format_source(source)
    except FormatError as exc:
        return exc


def _black_all(texts: list[str]) -> dict[str, Union[str, FormatError]]:
    workers = min(os.cpu_count() or 1, 4)
    if len(texts) < PARALLEL_FROM or workers < 2:
        return {text: _black_or_error(text) for text in texts}
    mode()  # import black before the workers start, so that they inherit it
    with ProcessPoolExecutor(workers) as pool:
        results = pool.map(_black_or_error, texts, chunksize=8)
        return dict(zip(texts, results))


_CODE = re.compile(r"z([A-Z]+)zx*")  # a placeholder's own characters: z, index, z, x...


def _abstractable(token: str, is_comment: bool) -> bool:
    """Whether black's treatment of this token depends only on its length and layout.

    ASCII (black measures width, and a wide character is two), no backslash (escapes
    are normalized), and for comments nothing black reads as a pragma; a docstring
    without quotes (black pads quotes at its ends), a string without both quotes
    (black's choice of quotes then depends only on where they are).
    """
    if "\\" in token or not _PRINTABLE_ASCII.fullmatch(token):
        return False
    if is_comment:
        return token.startswith("# ") and not _PRAGMA.search(token)
    if token[:3] in ("'''", '"""'):
        body = token[3:-3]
        return "'" not in body and '"' not in body
    body = token[1:-1]
    return not ("'" in body and '"' in body)


def _own(token: str) -> str:
    """A token's own characters: all but quotes, whitespace and a comment's first #."""
    return "".join(c for c in token[token.startswith("#") :] if c not in _KEPT)


def _code(index: int) -> str:
    digits = ""
    while True:
        index, digit = divmod(index, len(_ID_DIGITS))
        digits = _ID_DIGITS[digit] + digits
        if not index:
            return "z" + digits + "z"


def _index(digits: str) -> int:
    index = 0
    for digit in digits:
        index = index * len(_ID_DIGITS) + _ID_DIGITS.index(digit)
    return index


def _replace_own(token: str, own: str) -> str:
    """token with its own characters replaced, in order, by those of own."""
    chars = iter(own)
    start = 1 if token.startswith("#") else 0
    return token[:start] + "".join(
        c if c in _KEPT else next(chars) for c in token[start:]
    )


def _shape(source: str) -> Optional[tuple[str, list[str]]]:
    """The source with placeholders, and each placeholder's original own characters.

    None when some token of the source already looks like a placeholder.
    """
    originals: list[str] = []
    clash = False

    def replace(match: re.Match[str]) -> str:
        nonlocal clash
        is_comment = match.group("comment") is not None
        token = match.group("comment") or match.group("string")
        own = _own(token)
        if _CODE.fullmatch(own):
            clash = True
        code = _code(len(originals))
        if match.group("prefix") or not _abstractable(token, is_comment):
            return match.group()
        if len(own) < len(code):
            return match.group()
        originals.append(own)
        return _replace_own(token, code.ljust(len(own), "x"))

    shape = _TOKEN.sub(replace, source)
    return None if clash else (shape, originals)


def _restore(formatted: str, originals: list[str]) -> Optional[str]:
    """formatted with each placeholder, as black left it, turned back into its token.

    black moves tokens, re-quotes strings and re-indents docstrings, but never changes
    a placeholder's own characters: those are put back one for one. None unless each
    placeholder is found exactly once.
    """
    found: set[int] = set()
    failed = False

    def restore(match: re.Match[str]) -> str:
        nonlocal failed
        token = match.group("comment") or match.group("string")
        code = _CODE.fullmatch(_own(token))
        if code is None:
            return match.group()
        index = _index(code.group(1))
        if index >= len(originals) or index in found:
            failed = True
            return match.group()
        found.add(index)
        return (match.group("prefix") or "") + _replace_own(token, originals[index])

    restored = _TOKEN.sub(restore, formatted)
    if failed or len(found) != len(originals):
        return None
    return restored
