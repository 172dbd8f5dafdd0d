"""schemathesis against the real server: every operation of /openapi.json, fuzzed.

The CLI (`schemathesis run`) over the shared server, configured by schemathesis.toml
beside this file: positive data, a fixed number of examples per operation, derandomized,
every check (no 500, documented statuses, content types, headers and body schemas,
405s with Allow, requests without the token refused...). A failure prints schemathesis's
report, with a curl line to reproduce it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from service.examples import sample_body
from service.http.openapi import EXAMPLE_CLIENT_SIDE_ID

from .helpers import create_token, environ

CONFIG = Path(__file__).with_name("schemathesis.toml")


def test_every_operation_keeps_its_document(service, example_environment, tmp_path):
    token = create_token(service.db, "--role", "writer")
    with service.client(token) as client:  # the segment the config's parameters name
        body = sample_body("amplitude", EXAMPLE_CLIENT_SIDE_ID)
        assert client.post("/api/v2/segment-targets/amplitude", json=body).is_success
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG),
         "--no-color", "run", f"{service.url}/openapi.json",
         "--header", f"Authorization: {token}",
         "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=environ(),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 selected / 11 total" in result.stdout
    assert "Tested: 11" in result.stdout
