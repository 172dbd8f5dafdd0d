"""`python -m service` and the `segment-sync-service` command: see service/cli.py.

The service's dependencies are extras of the package; a missing one is named with the
extra that brings it, in one line, rather than a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Optional

DISTRIBUTION = "segment-sync-compiler"
# top-level module -> the extra of pyproject.toml that installs it
EXTRAS = {
    "fastapi": "service",
    "starlette": "service",
    "pydantic": "service",
    "uvicorn": "service",
    "prometheus_client": "service",
    "swagger_ui_bundle": "service",
    "redis": "redis",
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        from .cli import main as run

        return run(argv)
    except ModuleNotFoundError as error:
        extra = EXTRAS.get((error.name or "").partition(".")[0])
        if extra is None:
            raise
        print(
            f"error: the service needs {error.name}, which is not installed: "
            f"pip install '{DISTRIBUTION}[{extra}]'",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
