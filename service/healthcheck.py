"""`python -m service.healthcheck`: exit 0 when this host's service is ready, else 1.

For a container's HEALTHCHECK (the Dockerfile's): asks GET /readyz (the store takes
writes) of the server on this host, at the port and address of SEGMENT_SYNC_PORT and
SEGMENT_SYNC_HOST as `serve` reads them (a wildcard address is asked on loopback).
Standard library only, so that a check every few seconds stays cheap.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

from .settings import DEFAULT_HOST, DEFAULT_PORT, ENV_PREFIX

PATH = "/readyz"
TIMEOUT = 4.0  # seconds; below the Dockerfile's --timeout


def readiness_url(environ: Mapping[str, str]) -> str:
    host = environ.get(ENV_PREFIX + "HOST") or DEFAULT_HOST
    port = environ.get(ENV_PREFIX + "PORT") or str(DEFAULT_PORT)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{PATH}"


def main() -> int:
    url = readiness_url(os.environ)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (OSError, ValueError) as error:
        print(f"not ready: {url}: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"not ready: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
