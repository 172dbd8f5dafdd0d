"""Literals: the one place text becomes Python source (string literals and comments)."""

from __future__ import annotations

import textwrap


def python_literal(text: str, width: int = 60) -> str:
    """repr(text), as implicitly joined chunks in parentheses when it is long.

    black cannot split a long string literal; chunks keep generated lines short.
    Chunks are cut from the value before repr, so no escape is ever cut in two.
    """
    if len(text) <= width:
        return repr(text)
    chunks = [repr(text[i : i + width]) for i in range(0, len(text), width)]
    return "(" + " ".join(chunks) + ")"


def comment_text(text: str, width: int = 76) -> str:
    """Printable comment text; unprintable characters escaped, long text wrapped.

    Continuation lines start with "# ", so the result fits after a "# " anywhere.
    """
    line = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )
    lines = textwrap.wrap(line, width, break_on_hyphens=False) or [""]
    return "\n# ".join(lines)
