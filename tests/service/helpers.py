"""The real service as a subprocess on a free loopback port, its CLI, and bodies to send."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import httpx

from service.settings import ENV_PREFIX

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0  # seconds; a cold start imports FastAPI and uvicorn


class Output:
    """Lines of a pipe, read by a thread as they come, searchable while the process runs."""

    def __init__(self, pipe) -> None:
        self.lines: list[str] = []
        self._new = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe) -> None:
        for line in iter(pipe.readline, ""):
            self.lines.append(line.rstrip("\n"))
            self._new.put(None)
        self._new.put(None)

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT) -> re.Match:
        """The first line matching pattern, waiting for it up to timeout seconds."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                match = regex.search(line)
                if match:
                    return match
            seen = len(self.lines)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no line matching {pattern!r} within {timeout} s; got:\n"
                    + self.text()
                )
            try:
                self._new.get(timeout=remaining)
            except queue.Empty:
                pass

    def text(self) -> str:
        return "\n".join(self.lines)

    def close(self) -> None:
        self._thread.join(timeout=5)


def environ(**variables: str) -> dict[str, str]:
    """This process's environment less any SEGMENT_SYNC_ variable, plus variables.

    A developer's own SEGMENT_SYNC_STORE must not point the tests at their Redis.
    """
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    return {**inherited, "PYTHONUNBUFFERED": "1", **variables}


class Service:
    """`python -m service serve` on its own port; stopped (or killed) by the test.

    db None leaves --db out; env adds variables (with SEGMENT_SYNC_PORT in env,
    --port 0 is left out too).
    """

    def __init__(
        self,
        db: Optional[Path],
        *args: str,
        env: Optional[dict[str, str]] = None,
        cwd: Path = ROOT,
    ) -> None:
        self.db = db
        env = env or {}
        flags = [] if db is None else ["--db", str(db)]
        if ENV_PREFIX + "PORT" not in env:
            flags += ["--port", "0"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", *flags, *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environ(PYTHONPATH=str(ROOT), **env),
        )
        self.stdout = Output(self.process.stdout)
        self.stderr = Output(self.process.stderr)
        try:
            self.url = self.stderr.wait_for(r"listening on (http://[^\s\"]+)").group(1)
        except AssertionError:
            self.kill()  # leave no server behind a failed start
            raise

    def welcome(self) -> tuple[str, str]:
        """(client-side id, token) of a first start's greeting."""
        client_id = self.stdout.wait_for(r"client-side id: (\S+)").group(1)
        token = self.stdout.wait_for(r"access token: +(\S+)").group(1)
        return client_id, token

    def client(self, token: str | None = None, **kwargs) -> httpx.Client:
        headers = {"Authorization": token} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stdout.close()
        self.stderr.close()

    def kill(self) -> None:
        """kill -9: no shutdown, no cleanup, as in a crash."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.stdout.close()
        self.stderr.close()


def cli(db: Path, *args: str) -> subprocess.CompletedProcess:
    """Run `python -m service ARGS --db db`; the result, whatever its exit code."""
    command = [sys.executable, "-m", "service", *args]
    if args and args[-1] not in ("--help", "-h"):
        command += ["--db", str(db)]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=60, env=environ()
    )


def create_token(db: Path, *args: str) -> str:
    result = cli(db, "token", "create", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# --- bodies


def amplitude(client_id: str, cohort: str, added=(), removed=(), name=None) -> dict:
    """An Amplitude body: one cohort, members added (value true) and removed."""
    batch = [
        {"userId": user, "cohortId": cohort, "cohortName": name or cohort.title(),
         "cohortUrl": f"https://app.amplitude.com/cohort/{cohort}", "value": value}
        for users, value in ((added, True), (removed, False))
        for user in users
    ]  # fmt: skip
    return {"environmentId": client_id, "batch": batch}


def audience(client_id: str, cohort: str, kind: str, added=()) -> dict:
    """A Twilio Segment body, which says its context kind."""
    return {
        "environmentId": client_id,
        "contextKind": kind,
        "batch": [
            {"userId": user, "cohortId": cohort, "cohortName": cohort, "value": True}
            for user in added
        ],
    }


def rudderstack(client_id: str, cohort: str, added=(), removed=()) -> dict:
    """A RudderStack body: named add and remove arrays."""
    return {
        "environmentId": client_id,
        "cohortId": cohort,
        "cohortName": cohort.title(),
        "listData": {
            "add": [{"id": user} for user in added],
            "remove": [{"id": user} for user in removed],
        },
    }


def heap(client_id: str, segment_id: object, added=(), removed=()) -> dict:
    """A Heap body: named arrays, and a jsonResponseBody on every answer."""
    return {
        "parameters": {"environment_id": client_id},
        "heap": {
            "data": {
                "segment": {"id": segment_id, "name": f"Heap {segment_id}"},
                "add": [{"id": user} for user in added],
                "remove": [{"id": user} for user in removed],
            }
        },
    }


SEGMENTS = "/api/v2/projects/{project}/environments/{environment}/segments"


def segments_path(project: str = "default", environment: str = "production") -> str:
    return SEGMENTS.format(project=project, environment=environment)


def all_members(client: httpx.Client, segment_key: str, **path) -> list[str]:
    """Every member of a segment, page by page through the read API."""
    members: list[str] = []
    params = {"limit": 1000}
    while True:
        response = client.get(
            f"{segments_path(**path)}/{segment_key}/members", params=params
        )
        assert response.status_code == 200, response.text
        page = response.json()
        members += page["items"]
        if page["nextCursor"] is None:
            return members
        params["cursor"] = page["nextCursor"]


def wait_until(condition, timeout: float = 15.0) -> None:
    """Poll condition() every 50 ms until it holds; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
