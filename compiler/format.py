"""Format: black, in-process, with a pinned mode (never the user's configuration)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

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


def format_source(source: str) -> str:
    """The black-formatted text; raises FormatError if it is not Python."""
    import black
    from black.parsing import InvalidInput

    try:
        return black.format_str(source, mode=mode())
    except InvalidInput as exc:
        raise FormatError(str(exc)) from exc
