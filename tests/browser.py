"""A real headless Chromium for tests of pages: Debian's chromium and chromium-driver, via selenium.

One place for every tier that opens a page (the compiler's playground, the service's
/docs). `./dev test` installs the two Debian packages when it runs as root with apt, as
in CI; no browser or driver is ever downloaded (selenium is given both paths, so
Selenium Manager has nothing to fetch). Each browser gets a fresh profile folder, and
with offline=True no host but loopback: a page that needs the internet then fails to
render instead of quietly fetching it.

    from tests.browser import chromium, unavailable_reason

    with chromium(tmp_path) as browser:
        browser.get(url)
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",  # root in CI; the profile is throwaway and the pages are ours
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
# Every name resolves to nothing but loopback: the page must work offline.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"


def unavailable_reason() -> Optional[str]:
    """Why no browser test can run here, or None when one can."""
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


def start_chromium(
    profile: Path, width: int = 1440, height: int = 1000, offline: bool = False
) -> Any:
    """A selenium WebDriver over a fresh headless Chromium; the caller quits it.

    The driver's started_in is how long Chromium took to start (seconds).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager: no telemetry
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    if offline:
        options.add_argument(OFFLINE)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console lines
    started = time.perf_counter()
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.started_in = time.perf_counter() - started
    driver.set_page_load_timeout(30)
    return driver


@contextmanager
def chromium(
    tmp_path: Path, *, offline: bool = True, size: tuple[int, int] = (1280, 1000)
) -> Iterator[Any]:
    """start_chromium with a profile in tmp_path, offline by default; quit on exit."""
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    driver = start_chromium(profile, *size, offline=offline)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any) -> list[str]:
    """The page's console lines of level SEVERE (failed loads, script errors)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def loaded_urls(driver: Any) -> list[str]:
    """Every URL the page loaded, as the browser's resource timing lists them."""
    urls: list[str] = driver.execute_script(
        "return [location.href].concat("
        "performance.getEntriesByType('resource').map(e => e.name))"
    )
    return urls
