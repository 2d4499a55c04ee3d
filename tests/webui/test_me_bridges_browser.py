"""/me/bridges in a real browser: a family member sets their IRC nick and password from the web
page (the IRC bridge switched on headless); a nick IRC refuses is refused in words. Screenshots at
phone and desktop size go to test-output/screenshots/me-bridges/."""
from __future__ import annotations

import json
import shutil
import sqlite3

from tests.browser import Shots, launch, sign_in, sync_playwright, watch_problems
from tests.conftest import ROOT, start_server

playwright_api = sync_playwright()

SHOTS = ROOT / "test-output" / "screenshots" / "me-bridges"
KIM_PW = "kim's long password"


def test_a_member_sets_their_irc_name(tmp_path):
    shutil.rmtree(SHOTS, ignore_errors=True)
    srv = start_server(tmp_path / "box", HEARTH_REGISTRATION=None, HEARTH_BRIDGES_ENABLED="irc")
    problems: list[str] = []
    try:
        srv.hearth_cli("bridges", "set", "irc", "networks=" + json.dumps(["libera 127.0.0.1:9 tls"]))
        srv.hearth_cli("create-user", "admin", "--admin", "--password", "warm tea by the fire")
        srv.hearth_cli("create-user", "kim", "--password", KIM_PW)
        with playwright_api.sync_playwright() as p:
            browser, context = launch(p)
            page = context.new_page()
            problems = watch_problems(page)
            shot = Shots(page, SHOTS)
            sign_in(page, srv.base_url, "kim", KIM_PW, "/me")
            page.click("nav.section-nav >> text=Bridges")
            page.wait_for_url("**/me/bridges")
            for _ in range(40):  # the bridge restarts with its networks within a few seconds
                if page.locator("#step-name-libera").count():
                    break
                page.wait_for_timeout(250)
                page.reload()
            assert "You appear on libera as kim" in page.inner_text("#step-name-libera")
            shot("me-bridges")
            page.fill("input[name='name-libera.nick']", "1kim")
            page.click("#step-name-libera button[type=submit]")
            assert "IRC does not accept that nick" in page.inner_text("#step-name-libera")
            shot("me-bridges-refused")
            page.fill("input[name='name-libera.nick']", "kimberly")
            page.fill("input[name='name-libera.password']", "nickserv secret")
            page.click("#step-name-libera button[type=submit]")
            page.wait_for_url("**/me/bridges")
            assert "Your nick on libera is now kimberly" in page.content()
            assert "You appear on libera as kimberly (with a stored password)" in page.inner_text("#step-name-libera")
            shot("me-bridges-saved")
            browser.close()
        db = sqlite3.connect(tmp_path / "box" / "hearth.db")
        nick, password = db.execute("SELECT nick, password FROM irc_users").fetchone()
        db.close()
        assert nick == "kimberly" and "nickserv secret" not in password
        assert not problems, problems
    finally:
        srv.stop()
