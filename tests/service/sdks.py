"""Real LaunchDarkly SDKs for the end-to-end tests: the Python SDK in process, the Node SDK
as a subprocess (tests/service/node/sdk.cjs, installed by scripts/node-sdk.sh)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import pytest
from ldclient import Context
from ldclient.client import LDClient
from ldclient.config import BigSegmentsConfig, Config
from ldclient.interfaces import BigSegmentStore

from .helpers import ROOT

NODE_FOLDER = ROOT / "tests" / "service" / "node"


def flag_on_segment(flag_key: str, segment_key: str) -> dict:
    """A flag that serves true to contexts in the segment (a segmentMatch rule), else false."""
    return {
        "key": flag_key,
        "version": 1,
        "on": True,
        "salt": flag_key,
        "variations": [False, True],
        "offVariation": 0,
        "fallthrough": {"variation": 0},
        "targets": [],
        "contextTargets": [],
        "prerequisites": [],
        "rules": [
            {
                "id": "in-segment",
                "variation": 1,
                "clauses": [
                    {
                        "contextKind": "user",
                        "attribute": "key",
                        "op": "segmentMatch",
                        "values": [segment_key],
                        "negate": False,
                    }
                ],
            }
        ],
    }


def python_sdk(store: BigSegmentStore, **data) -> LDClient:
    """The Python SDK, offline, with a Big Segment store and a data source or store."""
    config = Config(
        sdk_key="sdk-offline-test",
        send_events=False,
        diagnostic_opt_out=True,
        big_segments=BigSegmentsConfig(
            store=store,
            context_cache_time=0.05,  # seconds: membership is read again almost at once
            status_poll_interval=0.2,
            stale_after=30,
        ),
        **data,
    )
    sdk = LDClient(config=config, start_wait=10)
    assert sdk.is_initialized()
    return sdk


def python_evaluate(sdk: LDClient, flag_key: str) -> Callable[[str], dict]:
    """evaluate(key): {"value", "reason"} of the flag for a user context."""

    def evaluate(key: str) -> dict:
        detail = sdk.variation_detail(flag_key, Context.create(key), False)
        return {"value": detail.value, "reason": detail.reason}

    return evaluate


def wait_for_values(
    evaluate: Callable[[str], dict], expected: dict[str, bool], timeout: float = 15.0
) -> dict[str, dict]:
    """Evaluate until every key gets its expected value; the last answers."""
    deadline = time.monotonic() + timeout
    while True:
        answers = {key: evaluate(key) for key in expected}
        if {key: answer["value"] for key, answer in answers.items()} == expected:
            return answers
        assert time.monotonic() < deadline, f"still {answers}, not {expected}"
        time.sleep(0.05)


def node_or_skip() -> None:
    """Install the Node SDK (scripts/node-sdk.sh); without Node, skip, or fail in CI."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        message = (
            "node and npm are not installed: the Node SDK tests need Node 20 "
            "(Debian: apt-get install nodejs npm)"
        )
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run them", pytrace=False)
        pytest.skip(message)
    result = subprocess.run(
        [str(ROOT / "scripts" / "node-sdk.sh")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, "scripts/node-sdk.sh failed:\n" + result.stderr


class NodeSdk:
    """`node sdk.cjs CONFIG`: the Node server SDK, one JSON line per question."""

    def __init__(self, config: dict) -> None:
        self.process = subprocess.Popen(
            ["node", str(NODE_FOLDER / "sdk.cjs"), json.dumps(config)],
            cwd=NODE_FOLDER,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready = self._answer()
        assert ready == {"ready": True, "initialized": True}, self.stderr()

    def _answer(self) -> Optional[dict]:
        line = self.process.stdout.readline()
        assert line, "the Node SDK exited:\n" + self.stderr()
        return json.loads(line)

    def ask(self, question: dict) -> Optional[dict]:
        self.process.stdin.write(json.dumps(question) + "\n")
        self.process.stdin.flush()
        return self._answer()

    def evaluator(self, flag_key: str) -> Callable[[str], dict]:
        return lambda key: self.ask({"eval": flag_key, "key": key})

    def stderr(self) -> str:
        if self.process.poll() is None:
            self.process.kill()
        return self.process.stderr.read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def write_json(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document))
    return path
