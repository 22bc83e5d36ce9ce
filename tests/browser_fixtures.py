"""Real headless Chromium for the map tests (Debian's /usr/bin/chromium driven by
Playwright for Python; Playwright's own browser download is never used).

* ``browser`` (session): one Chromium for the whole run. Missing Chromium FAILS
  the test, it never skips.
* ``guarded_page``: a fresh page whose every request is logged and whose
  requests to any host but 127.0.0.1 / localhost / ::1 are aborted (and make the
  test fail at teardown); console errors and uncaught page errors are collected
  and fail the test at teardown too.
* ``wait_until(page, expression)``: polls a JavaScript expression (``wait_for_function``
  would evaluate a string with eval, which the pages' Content-Security-Policy forbids);
* ``launch_browser(browser, *args)``: another Chromium with extra flags from the session's
  Playwright (a second ``sync_playwright()`` cannot run beside the first);
* ``screenshot(page, name)``: saves ``artifacts/screenshots/<name>.png`` (the CI
  artefact folder, documented in docs/maps.md).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("CLOSEWATCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"


def is_local_url(url: str) -> bool:
    """file:, data:, blob:, about: or http(s) to a loopback host."""
    parts = urlsplit(url)
    if parts.scheme in ("file", "data", "blob", "about"):
        return True
    if parts.scheme in ("http", "https", "ws", "wss"):
        return (parts.hostname or "") in LOOPBACK_HOSTS
    return False


@dataclass
class PageLog:
    """What a page did: every request URL, the blocked ones, console errors."""

    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert not self.blocked, f"requests off the machine: {self.blocked}"
        assert not self.console_errors, f"console errors: {self.console_errors}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def guarded_page(browser: Any) -> Iterator[tuple[Any, PageLog]]:
    log = PageLog()
    context = browser.new_context(viewport={"width": 1280, "height": 860}, service_workers="block")

    def guard(route: Any) -> None:
        url = route.request.url
        if is_local_url(url):
            route.continue_()
        else:
            log.blocked.append(url)
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    page = context.new_page()
    page.on("request", lambda r: log.requests.append(r.url))
    page.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log.console_errors.append(f"uncaught: {e}"))
    try:
        yield page, log
    finally:
        context.close()
    off = [u for u in log.requests if not is_local_url(u)]
    assert not off, f"requests to hosts other than loopback: {off}"
    log.assert_clean()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    out = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(out))
    return out


def wait_until(page: Any, expression: str, timeout_s: float = 10.0) -> None:
    """Poll a JS expression with page.evaluate until it is true (an AssertionError after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout_s} s: {expression}")
        page.wait_for_timeout(100)


def launch_browser(browser: Any, *extra_args: str) -> Any:
    """Another headless Chromium with ``extra_args`` (``--host-resolver-rules=...``,
    ``--ignore-certificate-errors``), for one test; the caller closes it."""
    return browser.browser_type.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args], headless=True)
