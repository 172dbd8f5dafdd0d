"""The playground as a real subprocess, and a real headless Chromium driven by selenium.

The browser is tests/browser.py's (Debian's chromium and chromedriver, nothing
downloaded), shared with the service's /docs test.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"


class Playground:
    """`python -m compiler playground --port 0` in its own (empty) working folder."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.cwd = cwd
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "compiler", "playground", "--port", "0", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.first_line = self.read_line(30)
        if not self.first_line.startswith("playground: http://"):
            self.stop()
            raise RuntimeError(
                f"the playground did not start: {self.first_line!r}\n"
                f"{self.process.stderr.read()}"
            )
        self.url = self.first_line.split()[1]

    def read_line(self, seconds: float) -> str:
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(seconds):
                return ""
        return self.process.stdout.readline().rstrip("\n")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            stream.close()
