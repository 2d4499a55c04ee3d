"""The admin and family pages in a real browser (Playwright driving Debian's Chromium) against a
real server set up headlessly (`hearth create-user --admin`): the admin signs in, makes an invite
that a matrix-nio client registers with, resets that person's password (the old one stops
working), and a family member downloads their data. Every page is screenshotted, phone-sized and
desktop-sized, into test-output/screenshots/webui/.
"""
from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import httpx

from tests.browser import Shots, launch, run_async, sync_playwright
from tests.conftest import ROOT, start_server

playwright_api = sync_playwright()

SHOTS = ROOT / "test-output" / "screenshots" / "webui"
ADMIN_PW = "warm tea by the fire"
KIM_PW = "blue kites over hills"
NEWBIE_PW = "first day at home"
RESET_PW = "a brand new phrase"





async def _seed(base_url: str) -> str:
    """Kim chats in a family room (so the rooms, reports and export have something in them)."""
    from nio import AsyncClient, LoginResponse, RoomCreateResponse

    kim = AsyncClient(base_url, "kim")
    admin = AsyncClient(base_url, "admin")
    try:
        assert isinstance(await kim.login(KIM_PW, device_name="Kim's phone"), LoginResponse)
        assert isinstance(await admin.login(ADMIN_PW, device_name="Laptop"), LoginResponse)
        created = await kim.room_create(name="Family chat", topic="Dinner plans and photos",
                                        invite=[admin.user_id])
        assert isinstance(created, RoomCreateResponse), created
        await admin.join(created.room_id)
        for text in ("Who is cooking tonight?", "I can do pasta", "Lovely, thank you!"):
            sender = admin if text == "I can do pasta" else kim
            await sender.room_send(created.room_id, "m.room.message", {"msgtype": "m.text", "body": text})
        rude = await admin.room_send(created.room_id, "m.room.message", {"msgtype": "m.text", "body": "spam spam spam"})
        async with httpx.AsyncClient() as http:  # a content report, as Element sends it
            r = await http.post(f"{base_url}/_matrix/client/v3/rooms/{created.room_id}/report/{rude.event_id}",
                                json={"reason": "Looks like spam"},
                                headers={"Authorization": f"Bearer {kim.access_token}"})
            assert r.status_code == 200, r.text
        return created.room_id
    finally:
        await kim.close()
        await admin.close()


async def _register_with(base_url: str, token: str) -> None:
    from nio import AsyncClient, RegisterResponse

    newbie = AsyncClient(base_url, "newbie")
    try:
        reg = await newbie.register_with_token("newbie", NEWBIE_PW, token, device_name="New phone")
        assert isinstance(reg, RegisterResponse), reg
        assert newbie.user_id == "@newbie:hearth.test"
    finally:
        await newbie.close()


async def _login_works(base_url: str, user: str, password: str) -> bool:
    from nio import AsyncClient, LoginResponse

    c = AsyncClient(base_url, user)
    try:
        return isinstance(await c.login(password), LoginResponse)
    finally:
        await c.close()


def test_admin_and_family_pages_in_a_browser(tmp_path):
    data = tmp_path / "data"
    srv = start_server(data, HEARTH_REGISTRATION=None)  # invite codes (the default), changeable in the UI
    folder = SHOTS
    shutil.rmtree(folder, ignore_errors=True)
    try:
        srv.hearth_cli("create-user", "admin", "--admin", "--password", ADMIN_PW)
        srv.hearth_cli("create-user", "kim", "--password", KIM_PW)
        room_id = run_async(_seed(srv.base_url))

        problems: list[str] = []
        with playwright_api.sync_playwright() as p:
            browser, context = launch(p, accept_downloads=True)
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text)
                    if m.type == "error" and "Failed to load resource" not in m.text else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            shot = Shots(page, folder)

            # Sign in.
            page.goto(srv.base_url + "/")
            shot("sign-in")
            page.fill("#username", "admin")
            page.fill("#password", "not the password")
            page.click("button[type=submit]")
            assert "do not match" in page.content()
            shot("sign-in-wrong")
            page.fill("#password", ADMIN_PW)
            page.click("main button[type=submit]")
            page.wait_for_url("**/admin")
            assert "Everything is running" in page.content() or "Needs attention" in page.content()
            shot("admin-overview")

            page.click("nav.section-nav >> text=People")
            page.wait_for_url("**/admin/people")
            assert "@kim:hearth.test" in page.content()
            shot("admin-people")

            # An invite, made in the web UI; a matrix-nio client registers with it.
            page.click("nav.section-nav >> text=Invites")
            page.wait_for_url("**/admin/invites")
            shot("admin-invites-empty")
            page.fill("#uses", "1")
            page.fill("#days", "7")
            page.click("#create-invite")
            page.wait_for_selector("#invite-code")
            token = page.inner_text("#invite-code").strip()
            assert page.locator(".qr svg").count() == 1
            assert page.input_value("#invite-link").endswith(f"/join/{token}")
            shot("admin-invite")
            run_async(_register_with(srv.base_url, token))
            page.goto(srv.base_url + "/admin/invites")
            assert "Used 1 of 1" in page.content()
            shot("admin-invites-used")

            # The admin resets the new person's password: the old one stops working.
            page.goto(srv.base_url + "/admin/people")
            page.click("text=@newbie:hearth.test")
            page.wait_for_url("**/admin/people/@newbie:hearth.test")
            assert "New phone" in page.content()  # the device it registered with
            shot("admin-person")
            page.fill("#new_password", RESET_PW)
            page.click("#reset-password button[type=submit]")
            page.wait_for_selector(".alert-ok")
            assert "The new password works now" in page.content()
            assert "No devices are signed in" in page.content()
            shot("admin-person-reset")
            assert not run_async(_login_works(srv.base_url, "newbie", NEWBIE_PW))
            assert run_async(_login_works(srv.base_url, "newbie", RESET_PW))

            page.goto(srv.base_url + "/admin/people/@kim:hearth.test")
            assert "Kim's phone" in page.content()
            shot("admin-person-devices")

            page.click("nav.section-nav >> text=Rooms")
            page.wait_for_url("**/admin/rooms")
            assert "Family chat" in page.content()
            shot("admin-rooms")
            page.click("text=Family chat")
            page.wait_for_url(f"**/admin/rooms/{room_id}")
            assert "@kim:hearth.test" in page.content()
            shot("admin-room")

            page.click("nav.section-nav >> text=Reports")
            assert "spam spam spam" in page.content() and "Looks like spam" in page.content()
            shot("admin-reports")

            page.click("nav.section-nav >> text=Announce")
            page.fill("#message", "The server restarts tonight at 22:00 for an update.")
            shot("admin-announce")
            page.click("main button[type=submit]")
            page.wait_for_selector(".alert-ok")
            assert "Sent to 3 people" in page.content()

            page.click("nav.section-nav >> text=Settings")
            page.wait_for_url("**/admin/settings")
            assert page.is_checked("#registration-token")
            page.check("#members_can_invite", force=True)
            shot("admin-settings")
            page.click("main button[type=submit]")
            page.wait_for_selector(".alert-ok")
            assert page.is_checked("#members_can_invite")

            page.click("nav.section-nav >> text=Logs")
            page.wait_for_url("**/admin/logs")
            assert "/_matrix/client/v3/register" in page.content()
            page.fill("input[name=user]", "@kim")
            page.click("form.filters button[type=submit]")
            assert "@kim:hearth.test" in page.content()
            shot("admin-logs")
            page.goto(srv.base_url + "/admin")
            assert "since the start, 99% within" in page.inner_text("#answers")  # the metrics' figures
            assert page.inner_text("#background") == "Up to date"
            shot("admin-overview-later")

            page.click("header button:has-text('Sign out')")
            page.wait_for_url("**/login")

            # A family member: their pages, and their data as one archive.
            page.fill("#username", "kim")
            page.fill("#password", KIM_PW)
            page.click("main button[type=submit]")
            page.wait_for_url("**/me")
            assert "Hello, kim" in page.content()
            shot("me")
            assert page.goto(srv.base_url + "/admin").status == 403
            shot("me-admin-refused")
            page.goto(srv.base_url + "/me/password")
            shot("me-password")
            page.goto(srv.base_url + "/me/devices")
            assert "Kim's phone" in page.content()
            shot("me-devices")
            page.goto(srv.base_url + "/me/invite")
            page.click("main button[type=submit]")
            page.wait_for_selector("#invite-code")
            shot("me-invite")
            page.goto(srv.base_url + "/me/export")
            shot("me-export")
            with page.expect_download() as info:
                page.click("#export-button")
            download = info.value
            assert download.suggested_filename.startswith("hearth-kim-") and download.suggested_filename.endswith(".zip")
            archive = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes()))
            context.close()
            browser.close()
        assert not problems, problems  # no script errors and no CSP violations on any page

        names = archive.namelist()
        base = "rooms/" + room_id.replace(":", "_")
        events = [json.loads(line) for line in archive.read(f"{base}/events").decode().splitlines()]
        bodies = [e["content"].get("body") for e in events if e["type"] == "m.room.message"]
        assert bodies == ["Who is cooking tonight?", "I can do pasta", "Lovely, thank you!", "spam spam spam"]
        assert any(n.startswith(f"{base}/state/") for n in names)
        assert json.loads(archive.read("user_data/profile"))["displayname"] == "kim"
        devices = [json.loads(line) for line in archive.read("user_data/devices").decode().splitlines()]
        assert [d["display_name"] for d in devices] == ["Kim's phone"]
        # The server notice (the announcement) is Kim's too: an invite she has not answered yet.
        assert any(n.endswith("/invite_state") for n in names)
    finally:
        srv.stop()
