"""`python -m compiler`: see compiler.cli."""

import os
import sys

# `python -m` puts the working directory first on sys.path, so a folder there named
# like a module (a package built with `--out json`) would be imported instead of it,
# by the compiler itself. Its own modules are found through the package, so drop it.
_here = os.getcwd()
sys.path[:] = [p for p in sys.path if p not in ("", ".", _here)]

from .cli import main  # noqa: E402 - after the sys.path fix; imports no dependency

sys.exit(main())
