"""The whole setup wizard in a real browser (Playwright driving Debian's Chromium) against a real
server on a fresh data directory: a wrong code refused, every step, the done page, the wizard gone
afterwards, and a matrix-nio client registering with the invite the done page shows.

Screenshots of every page, phone-sized and desktop-sized, go to test-output/screenshots/.
"""
from __future__ import annotations

import asyncio
import re
import shutil


from tests.browser import Shots, launch, sync_playwright
from tests.conftest import ROOT, start_server

playwright_api = sync_playwright()

SHOTS = ROOT / "test-output" / "screenshots"
PASSWORD = "warm tea by the fire"





def test_whole_wizard_in_a_browser_then_a_family_member_registers(tmp_path):
    data = tmp_path / "data"
    # A fresh box: no server name, no registration policy from the environment.
    srv = start_server(data, HEARTH_SERVER_NAME=None, HEARTH_REGISTRATION=None)
    folder = SHOTS / "wizard"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        code = (data / "setup-code.txt").read_text().strip()
        console = (tmp_path / f"server-{srv.base_url.rsplit(':', 1)[1]}.log").read_text()
        assert f"/setup" in console and code in console  # `make run` shows the way in

        problems: list[str] = []
        with playwright_api.sync_playwright() as p:
            browser, context = launch(p)
            page = context.new_page()
            # Script errors and CSP violations ("Refused to ..."); a 400/404 page itself is expected.
            page.on("console", lambda m: problems.append(m.text)
                    if m.type == "error" and "Failed to load resource" not in m.text else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            shot = Shots(page, folder, settle_ms=300)  # the password meter animates

            page.goto(srv.base_url + "/")
            assert page.url.endswith("/setup")
            shot("welcome")

            page.fill("#setup_code", "ABCD-EFGH-JKMN")
            page.click("button[type=submit]")
            assert "That is not the setup code" in page.content(), page.inner_text("main")
            shot("wrong-code")

            page.fill("#setup_code", code.lower().replace("-", " "))
            page.click("button[type=submit]")
            assert page.url.endswith("/setup/mode")
            assert not page.is_disabled("#mode-restore")  # restore: tests/webui/test_wizard_restore.py
            shot("start")
            page.click("button[type=submit]")

            assert page.url.endswith("/setup/server_name")
            page.fill("#server_name", "our home!")
            page.click("button[type=submit]")
            assert "looks like hearth.local" in page.content()
            shot("server-name-error")
            page.fill("#server_name", "smith.home")
            page.click("button[type=submit]")

            assert page.url.endswith("/setup/admin")
            page.fill("#username", "mum")
            page.fill("#password", "abc12")
            assert "Too short" in page.inner_text("[data-meter-for=password]")
            page.fill("#password", PASSWORD)
            page.fill("#password_confirm", PASSWORD)
            assert page.inner_text("[data-meter-for=password] .meter-text") in ("Good.", "Strong.")
            shot("admin")
            page.click("button[type=submit]")

            assert page.url.endswith("/setup/join")
            assert page.is_checked("#registration-token")
            shot("join")
            page.click("button[type=submit]")

            assert page.url.endswith("/setup/features")
            assert not page.is_checked("#url_previews")
            shot("features")
            page.click("button[type=submit]")

            assert page.url.endswith("/setup/reach")
            assert page.is_checked("#reach_mode-lan")  # at home only, unless the family chooses more
            assert not page.is_visible("#reach_domain")
            shot("reach")
            page.check("#reach_mode-dyndns")  # a free name: the name, its provider and token appear
            assert page.is_visible("#reach_domain") and page.is_visible("#reach_dns_provider-duckdns")
            page.check("#reach_dns_provider-duckdns")
            assert page.is_visible("#dns_token")
            shot("reach-free-name")
            page.check("#reach_mode-lan")
            page.click("button[type=submit]")

            assert page.url.endswith("/setup/bridges")
            shot("bridges")
            page.click("button[type=submit]")

            assert page.url.endswith("/setup/summary")
            assert "@mum:smith.home" in page.content()
            shot("summary")
            page.click("button[type=submit]")
            page.wait_for_selector("#invite-code")
            assert "Hearth is ready" in page.content()
            token = page.inner_text("#invite-code").strip()
            assert page.locator(".qr svg").count() == 1
            shot("done")
            # The new server name restarts the server: the done page says when it is back.
            page.wait_for_selector("[data-restart-done]", state="visible", timeout=30_000)

            # The wizard is gone for good: its pages answer 404, the old form cannot be sent again.
            response = page.goto(srv.base_url + "/setup")
            assert response.status == 404
            shot("setup-gone")
            assert page.goto(srv.base_url + "/setup/summary").status == 404
            replay = page.request.post(srv.base_url + "/setup/summary", form={"csrf_token": "x"})
            assert replay.status == 404

            response = page.goto(f"{srv.base_url}/join/{token}")
            assert response.status == 200 and token in page.content()
            shot("join-invite")
            context.close()
            browser.close()
        assert not problems, problems  # no script errors and no CSP violations on any page
        assert not (data / "setup-code.txt").exists()

        asyncio.run(_register_with_invite(srv.base_url, token))
    finally:
        srv.stop()


async def _register_with_invite(base_url: str, token: str) -> None:
    from nio import AsyncClient, LoginResponse, RegisterResponse
    from nio.responses import RegisterErrorResponse

    kid = AsyncClient(base_url, "kid")
    stranger = AsyncClient(base_url, "stranger")
    mum = AsyncClient(base_url, "@mum:smith.home")
    try:
        refused = await stranger.register("stranger", PASSWORD)  # no invite: invite codes only
        assert isinstance(refused, RegisterErrorResponse), refused
        reg = await kid.register_with_token("kid", PASSWORD, token, device_name="Kid's phone")
        assert isinstance(reg, RegisterResponse), reg
        assert kid.user_id == "@kid:smith.home"
        assert isinstance(await mum.login(PASSWORD), LoginResponse)  # the admin the wizard made
    finally:
        await kid.close()
        await stranger.close()
        await mum.close()


def test_screenshots_are_not_committed():
    assert re.search(r"^test-output/?$", (ROOT / ".gitignore").read_text(), re.M)
