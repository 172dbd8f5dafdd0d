"""/docs renders in a real headless Chromium with no network but loopback.

Swagger UI must draw every operation of /openapi.json (read from the page itself, not
from a screenshot file), load nothing from any other host, and log no error; the
screenshots (docs.png, docs-ingest.png) are left in the test's tmp_path for a person to
look at.
"""

from __future__ import annotations

import os
import struct

import pytest

from tests.browser import chromium, console_errors, loaded_urls, unavailable_reason


@pytest.fixture(scope="module")
def browser_or_skip():
    reason = unavailable_reason()
    if reason is not None and os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests: {reason}")  # ./dev installs it
    if reason is not None:
        pytest.skip(reason)


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_docs_render_every_operation_offline(browser_or_skip, service, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    with service.client() as client:
        document = client.get("/openapi.json").json()
    operations = {
        (operation["tags"][0], operation["operationId"])
        for path in document["paths"].values()
        for operation in path.values()
    }
    with chromium(tmp_path) as browser:
        browser.get(service.url + "/docs")
        WebDriverWait(browser, 30).until(
            lambda b: len(b.find_elements(By.CSS_SELECTOR, ".opblock"))
            == len(operations)
        )
        # Swagger UI names each operation's block operations-{tag}-{operationId}
        drawn = {
            element.get_attribute("id")
            for element in browser.find_elements(By.CSS_SELECTOR, ".opblock")
        }
        title = browser.find_element(By.CSS_SELECTOR, ".info .title").text
        (tmp_path / "docs.png").write_bytes(browser.get_screenshot_as_png())
        ingest = browser.find_element(By.ID, "operations-sync-syncSegmentTargets")
        ingest.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
        WebDriverWait(browser, 10).until(
            expected_conditions.visibility_of_element_located(
                (By.CSS_SELECTOR, "#operations-sync-syncSegmentTargets select")
            )
        )
        ingest_text = ingest.text
        png = browser.get_screenshot_as_png()  # the ingest operation opened
        urls = loaded_urls(browser)
        errors = console_errors(browser)
    (tmp_path / "docs-ingest.png").write_bytes(png)
    assert drawn == {f"operations-{tag}-{op}" for tag, op in operations}
    assert title.startswith("Segment sync service")
    assert "heap-inbound" in ingest_text  # the enum of integration keys, as a list
    assert "Sync a partner's cohort into a segment" in ingest_text
    assert all(url.startswith(service.url + "/") for url in urls), urls
    assert any(url.endswith("/docs/assets/swagger-ui-bundle.js") for url in urls)
    assert errors == []
    width, height = png_size(png)
    assert width == 1280 and height > 500
