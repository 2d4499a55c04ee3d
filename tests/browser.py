"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser), and
screenshots of every page at a phone and a desktop size."""
from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path

import pytest

from tests.needs import unavailable

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def sync_playwright():
    """Playwright's sync API, or stop: call at module level of a browser test."""
    if not CHROMIUM.exists():
        unavailable("Debian's chromium is not installed")
    return pytest.importorskip("playwright.sync_api")


def launch(p, **context_options):
    """Chromium and a phone-sized page on it (the viewport tests start from)."""
    browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  **context_options)
    return browser, context


def run_async(coro):
    """Run a matrix-nio coroutine beside Playwright's sync API (which owns this thread's loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=120)


class Shots:
    """Every page at both sizes, numbered in order; the page returns to the phone size afterwards."""

    def __init__(self, page, folder: Path, settle_ms: int = 150):
        self.page, self.folder, self.n, self.settle_ms = page, folder, 0, settle_ms
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str) -> None:
        self.n += 1
        self.page.wait_for_timeout(self.settle_ms)
        for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
            self.page.set_viewport_size(size)
            self.page.wait_for_timeout(80)
            self.page.screenshot(path=str(self.folder / f"{self.n:02d}-{name}-{label}.png"), full_page=True)
        self.page.set_viewport_size(PHONE)


def watch_problems(page) -> list[str]:
    """Script errors, CSP refusals and uncaught exceptions the page reports, as they happen (a
    resource answering 4xx is a page's own business, not a problem)."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def sign_in(page, base_url: str, username: str, password: str, next_path: str) -> None:
    """The web sign-in page, landing on `next_path`."""
    page.goto(f"{base_url}/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
