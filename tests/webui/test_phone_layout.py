"""Every page at phone width (360 px) in a real browser: nothing runs off the side of the screen,
the Admin ⇄ Me switch and every section tab can be reached without scrolling sideways, and a long
user ID wraps instead of widening the page. Screenshots at 360 and 1280 px go to
test-output/screenshots/phone/.
"""
from __future__ import annotations

import re
import shutil

from tests.browser import CHROMIUM, sync_playwright
from tests.conftest import ROOT, start_server

playwright_api = sync_playwright()

SHOTS = ROOT / "test-output" / "screenshots" / "phone"
NARROW = {"width": 360, "height": 740}
WIDE = {"width": 1280, "height": 800}
# A long, valid user name (the user ID is @<name>:hearth.test).
LONG_NAME = "rosemaryandersonwhitfieldkeeperofthefamilychatathomeinthegarden"
PASSWORD = "warm tea by the fire"


def layout_problems(page) -> list[str]:
    """What at this width cannot be seen or reached without scrolling sideways."""
    # Not window.innerWidth: a phone browser widens its layout viewport to fit what runs over.
    return page.evaluate("""(width) => {
        const out = [];
        if (document.documentElement.scrollWidth > width + 1)
            out.push(`the page is ${document.documentElement.scrollWidth}px wide`);
        const outside = (el) => { const r = el.getBoundingClientRect();
            return r.width > 0 && (r.left < -1 || r.right > width + 1); };
        for (const el of document.querySelectorAll('.section-nav a, .account-switch')) {
            const r = el.getBoundingClientRect();
            if (r.width === 0 || getComputedStyle(el).visibility === 'hidden') out.push(`${el.textContent.trim()} is hidden`);
            else if (outside(el)) out.push(`${el.textContent.trim()} is off-screen (${Math.round(r.left)}..${Math.round(r.right)})`);
        }
        for (const el of document.querySelectorAll('main *')) {
            if (outside(el) && !el.closest('[data-scrolls], pre, .trace, table, .qr')) {
                out.push(`<${el.tagName.toLowerCase()} class="${el.className}"> runs off-screen`);
                if (out.length > 8) break;
            }
        }
        return out;
    }""", NARROW["width"])


class Pages:
    def __init__(self, page, folder):
        self.page, self.folder, self.n, self.problems = page, folder, 0, {}
        folder.mkdir(parents=True, exist_ok=True)

    def check(self, name: str) -> None:
        self.n += 1
        self.page.set_viewport_size(NARROW)
        self.page.wait_for_timeout(100)
        found = layout_problems(self.page)
        if found:
            self.problems[name] = found
        self.page.screenshot(path=str(self.folder / f"{self.n:02d}-{name}-360.png"), full_page=True)
        self.page.set_viewport_size(WIDE)
        self.page.wait_for_timeout(80)
        self.page.screenshot(path=str(self.folder / f"{self.n:02d}-{name}-1280.png"), full_page=True)
        self.page.set_viewport_size(NARROW)


def open_browser(p):
    browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
    context = browser.new_context(viewport=NARROW, device_scale_factor=1, is_mobile=True, has_touch=True)
    return browser, context.new_page()


def test_signed_in_pages_at_phone_width(tmp_path):
    srv = start_server(tmp_path / "data", HEARTH_REGISTRATION="token")
    folder = SHOTS / "signed-in"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        user_id = srv.hearth_cli("create-user", LONG_NAME, "--admin", "--password", PASSWORD)
        srv.hearth_cli("create-user", "kim", "--password", "blue kites over hills")
        with playwright_api.sync_playwright() as p:
            browser, page = open_browser(p)
            pages = Pages(page, folder)
            page.goto(srv.base_url + "/login")
            pages.check("sign-in")
            page.fill("#username", LONG_NAME)
            page.fill("#password", PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_url("**/admin")

            # The switch to "Me" is there on a phone, and leads to the admin's own pages.
            pages.check("admin-first")
            for href, label in re.findall(r'<li><a href="(/admin[^"]*)"[^>]*>([^<]+)</a>', page.content()):
                page.goto(srv.base_url + href)
                pages.check("admin-" + label.lower())
            page.goto(srv.base_url + "/admin/invites")
            page.click("#create-invite")
            page.wait_for_selector("#invite-code")
            code = page.inner_text("#invite-code").strip()
            pages.check("admin-invite")
            page.goto(srv.base_url + f"/admin/people/{user_id}")
            pages.check("admin-person-long-id")

            page.goto(srv.base_url + "/admin")
            if page.locator(".account-switch", has_text="Me").is_visible():
                page.locator(".account-switch", has_text="Me").click()
            else:
                page.goto(srv.base_url + "/me")
            page.wait_for_url("**/me")
            assert user_id in page.content()
            for href, label in re.findall(r'<li><a href="(/me[^"]*)"[^>]*>([^<]+)</a>', page.content()):
                page.goto(srv.base_url + href)
                pages.check("me-" + label.lower().replace(" ", "-"))
            page.goto(srv.base_url + f"/join/{code}")
            pages.check("join")
            page.goto(srv.base_url + "/join/NOPE-NOPE-NOPE")  # the web pages' error page
            pages.check("not-found")
            browser.close()
        assert not pages.problems, "\n".join(f"{k}: {v}" for k, v in pages.problems.items())
    finally:
        srv.stop()


def test_setup_wizard_at_phone_width(tmp_path):
    data = tmp_path / "data"
    srv = start_server(data, HEARTH_SERVER_NAME=None, HEARTH_REGISTRATION=None)
    folder = SHOTS / "wizard"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        code = (data / "setup-code.txt").read_text().strip()
        with playwright_api.sync_playwright() as p:
            browser, page = open_browser(p)
            pages = Pages(page, folder)
            page.goto(srv.base_url + "/setup")
            pages.check("welcome")
            page.fill("#setup_code", code)
            page.click("button[type=submit]")
            page.wait_for_url("**/setup/mode")
            pages.check("mode")
            page.click("button[type=submit]")
            page.wait_for_url("**/setup/server_name")
            page.fill("#server_name", "x" * 300)         # pasted, too long: refused with the limit said
            page.click("button[type=submit]")
            assert "use at most 230 characters" in page.content()
            pages.check("server-name-too-long")
            page.fill("#server_name", "the-anderson-whitfield-family.example.org")
            page.click("button[type=submit]")
            page.wait_for_url("**/setup/admin")
            page.fill("#username", LONG_NAME)
            page.fill("#password", PASSWORD)
            page.fill("#password_confirm", PASSWORD)
            pages.check("admin")
            page.click("button[type=submit]")
            page.wait_for_url("**/setup/join")
            pages.check("join")
            page.click("button[type=submit]")
            page.wait_for_url("**/setup/features")
            pages.check("features")
            page.click("button[type=submit]")
            page.wait_for_url("**/setup/reach")
            pages.check("reach")
            page.click("button[type=submit]")
            page.wait_for_url("**/setup/bridges")
            pages.check("bridges")
            page.click("button[type=submit]")
            page.wait_for_url("**/setup/summary")
            pages.check("summary")
            page.click("button[type=submit]")
            page.wait_for_selector("#invite-code")
            assert f"@{LONG_NAME}:the-anderson-whitfield-family.example.org" in page.content()
            pages.check("done")
            browser.close()
        assert not pages.problems, "\n".join(f"{k}: {v}" for k, v in pages.problems.items())
    finally:
        srv.stop()
