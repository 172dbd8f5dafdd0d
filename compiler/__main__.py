"""`python -m compiler`: see compiler.cli."""

import os
import sys

# `python -m` puts the working directory first on sys.path, so a folder there named
# like a module (a package built with `--out json`) would be imported instead of it,
# by the compiler itself. Its own modules are found through the package, so drop it.
_here = os.getcwd()
sys.path[:] = [p for p in sys.path if p not in ("", ".", _here)]

try:
    from .cli import main
except ModuleNotFoundError as missing:  # run outside the venv, without dependencies
    print(
        f"python -m compiler: the package {missing.name!r} is not installed here; run "
        "it inside the project's venv (`./dev check`, `./dev build`, `./dev try`), or "
        "`pip install -e .` first",
        file=sys.stderr,
    )
    sys.exit(2)

sys.exit(main())
