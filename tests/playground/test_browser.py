"""The playground end to end in a real headless Chromium: a partner's session.

Pick a shipped integration from the list, type two mistakes into its manifest (a regex
literal for a matcher, a JSONPath pointer), see each diagnostic listed at its
line:column and underlined where the test finds the text itself; jump to one, apply
its fix, type the other fix, see the to_json() result and the 204; then break the body
and see the 400 with its message.

PLAYGROUND_SCREENSHOT=docs/playground.png also saves the page, as the README shows it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from .helpers import ROOT

MATCHER = '"matcher": "^add$"'
COHORT = '"cohortIdPath": "/cohortId"'


def test_a_partner_types_mistakes_and_fixes_them(browser, playground):
    started = time.perf_counter()
    browser.get(playground.url)
    settled(browser)
    Select(browser.find_element(By.ID, "pick")).select_by_value("hightouch/add.json")
    settled(browser)
    manifest = textarea(browser, "manifest-editor")
    assert MATCHER in manifest.get_attribute("value")
    assert response_status(browser) == "HTTP/1.1 204 No Content"
    assert changes(browser) == {"added": ["u1", "u2"], "removed": []}
    assert items(browser) == ["No errors, no warnings."]

    # A matcher written as a JavaScript regex literal: a warning, and every add
    # becomes a removal, as the result shows.
    type_over(browser, manifest, "^add$", "/^add$/i")
    settled(browser)
    literal = diagnostic(browser, "matcher-regex-literal")
    assert literal.get_attribute("class") == "warning"
    assert where(literal) == position(manifest, '"/^add$/i"')
    assert marked(browser, "manifest-editor", "warning") == ['"/^add$/i"']
    line = position(manifest, '"/^add$/i"').split(":")[0]
    assert line in gutter(browser, "warning")
    assert changes(browser) == {"added": [], "removed": ["u1", "u2"]}
    screenshot(browser)

    # A JSONPath pointer: an error, so there is no module and nothing is tried.
    type_over(browser, manifest, "/cohortId", "$.cohortId")
    settled(browser)
    jsonpath = diagnostic(browser, "bad-pointer")
    assert jsonpath.get_attribute("class") == "error"
    assert where(jsonpath) == position(manifest, '"$.cohortId"')
    assert sorted(marked(browser, "manifest-editor")) == ['"$.cohortId"', '"/^add$/i"']
    assert "no module" in browser.find_element(By.ID, "module").text
    assert "error" in browser.find_element(By.ID, "status").text

    # Click the diagnostic: the caret goes to the pointer; apply its fix.
    jsonpath.find_element(By.CLASS_NAME, "where").click()
    text = manifest.get_attribute("value")
    start = text.index('"$.cohortId"')
    selection = browser.execute_script(
        "return [arguments[0].selectionStart, arguments[0].selectionEnd]", manifest
    )
    assert selection == [start, start + len('"$.cohortId"')]
    assert "JSONPath" in browser.find_element(By.ID, "caret-note").text
    jsonpath.find_element(By.CLASS_NAME, "apply").click()
    settled(browser)
    assert COHORT in manifest.get_attribute("value")
    assert [d.get_attribute("data-code") for d in diagnostics(browser)] == [
        "matcher-regex-literal"
    ]

    # Type the matcher's fix: clean, the module is back, the members are added.
    type_over(browser, manifest, "/^add$/i", "^add$")
    settled(browser)
    assert items(browser) == ["No errors, no warnings."]
    assert marked(browser, "manifest-editor") == []
    assert response_status(browser) == "HTTP/1.1 204 No Content"
    assert changes(browser) == {"added": ["u1", "u2"], "removed": []}
    module = browser.find_element(By.ID, "module").text
    assert "def parse(doc: object) -> SyncRequest:" in module
    assert browser.find_elements(By.CSS_SELECTOR, "#module .t-keyword")  # highlighted

    # A body the parser refuses: the 400 and its message, naming the pointer.
    body = textarea(browser, "body-editor")
    type_over(browser, body, '"environmentId"', '"environment"')
    settled(browser)
    assert response_status(browser) == "HTTP/1.1 400 Bad Request"
    message = 'environmentIdPath "/environmentId": no value in request body'
    headers, answer = browser.find_element(By.ID, "response").text.split("\n\n", 1)
    assert "Content-Type: application/json" in headers.splitlines()
    assert json.loads(answer) == {"code": "missing_value", "message": message}
    assert message in browser.find_element(By.ID, "result").text
    assert browser.find_element(By.ID, "result").text.startswith("refused:")

    assert page_errors(browser) == []
    # not an absolute-time assertion: printed for the report, see with -s
    print(f"\nbrowser session: {time.perf_counter() - started:.1f} s "
          f"(+ {browser.started_in:.1f} s to start Chromium)")  # fmt: skip


def settled(browser, seconds: float = 15) -> None:
    """Wait until the panels show the answer for the text as it is now."""
    WebDriverWait(browser, seconds).until(
        lambda b: b.find_element(By.ID, "status").get_attribute("data-busy") == "0"
    )


def textarea(browser, editor: str):
    return browser.find_element(By.CSS_SELECTOR, f"#{editor} textarea")


def type_over(browser, area, old: str, new: str) -> None:
    """Select the first `old` in the textarea, then type `new` key by key."""
    start = area.get_attribute("value").index(old)
    browser.execute_script(
        "arguments[0].focus(); arguments[0].setSelectionRange(arguments[1], arguments[2])",
        area,
        start,
        start + len(old),
    )
    ActionChains(browser).send_keys(new).perform()  # to the focused textarea, as typed


def position(area, needle: str) -> str:
    """LINE:COLUMN (1-based) of needle in the textarea, found by the test itself."""
    text = area.get_attribute("value")
    offset = text.index(needle)
    line = text.count("\n", 0, offset) + 1
    return f"{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def diagnostics(browser) -> list:
    return browser.find_elements(By.CSS_SELECTOR, "#diagnostics li[data-code]")


def diagnostic(browser, code: str):
    found = [d for d in diagnostics(browser) if d.get_attribute("data-code") == code]
    assert len(found) == 1, [d.text for d in diagnostics(browser)]
    return found[0]


def items(browser) -> list[str]:
    return [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#diagnostics li")]


def where(item) -> str:
    return item.find_element(By.CLASS_NAME, "where").text


def marked(browser, editor: str, level: str = "") -> list[str]:
    """The texts underlined in an editor's marks layer."""
    selector = f"#{editor} .marks mark" + (f".{level}" if level else "")
    marks = browser.find_elements(By.CSS_SELECTOR, selector)
    return [browser.execute_script("return arguments[0].textContent", m) for m in marks]


def gutter(browser, level: str) -> list[str]:
    numbers = browser.find_elements(
        By.CSS_SELECTOR, f"#manifest-editor .gutter .{level}"
    )
    return [n.text for n in numbers]


def response_status(browser) -> str:
    return browser.find_element(By.CSS_SELECTOR, "#response .status-line").text


def changes(browser) -> dict:
    result = json.loads(browser.find_element(By.ID, "result").text)
    (change,) = result["changes"]
    return {"added": change["added"], "removed": change["removed"]}


def page_errors(browser) -> list[str]:
    """Errors the page logged: a script error, or an asset the CSP blocked."""
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def screenshot(browser) -> None:
    target = os.environ.get("PLAYGROUND_SCREENSHOT")
    if target:
        path = Path(target) if Path(target).is_absolute() else ROOT / target
        path.parent.mkdir(parents=True, exist_ok=True)
        browser.find_element(By.ID, "status").click()  # the caret out of the editor
        browser.save_screenshot(str(path))
