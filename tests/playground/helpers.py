"""The playground as a real subprocess, and a real headless Chromium driven by selenium.

Chromium and chromedriver are Debian's (`chromium`, `chromium-driver`; `./dev test`
installs them as root with apt). Nothing is downloaded: selenium is given both paths,
so Selenium Manager has nothing to fetch.
"""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)


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


def chromium_missing() -> Optional[str]:
    """Why the browser tests cannot run here, or None when they can."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if shutil.which(path) is None:
            return (
                f"{path} is missing (Debian's {package}; ./dev test installs it when run "
                "as root with apt-get)"
            )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


def start_chromium(profile: Path, width: int = 1440, height: int = 1000):
    """A headless Chromium with a fresh profile folder, driven over chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager: no telemetry
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    started = time.perf_counter()
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.started_in = time.perf_counter() - started
    return driver
