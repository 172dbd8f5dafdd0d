"""Format: black, in-process, with a pinned mode (never the user's configuration)."""

from __future__ import annotations

import black

# Generated code must run on CPython 3.9+; pinning the mode keeps output identical
# wherever the compiler runs, whatever pyproject.toml sits nearby.
MODE = black.Mode(
    target_versions={black.TargetVersion.PY39},
    line_length=88,
    string_normalization=True,
    magic_trailing_comma=True,
)


def format_source(source: str) -> str:
    """The black-formatted text; raises black.InvalidInput if it is not Python."""
    return black.format_str(source, mode=MODE)
