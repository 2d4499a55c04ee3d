"""Admin → Bridges, the bridges built into Hearth, in a real browser against a real server with a
plugin outside the package (tests/fixtures/plugins): switch it on, see it working, change its
settings (a wrong value refused in words), check it end to end, switch it off. Screenshots at
phone and desktop size go to test-output/screenshots/builtin-bridges/."""
from __future__ import annotations

import os
import shutil
import time

import httpx

from tests.browser import Shots, launch, sign_in, sync_playwright, watch_problems
from tests.conftest import ROOT, start_server

playwright_api = sync_playwright()

SHOTS = ROOT / "test-output" / "screenshots" / "builtin-bridges"
PLUGINS = ROOT / "tests" / "fixtures" / "plugins"
ADMIN_PW = "warm tea by the fire"


def test_switch_configure_check_and_switch_off_a_bridge(tmp_path):
    shutil.rmtree(SHOTS, ignore_errors=True)
    pythonpath = os.pathsep.join(p for p in (str(PLUGINS), os.environ.get("PYTHONPATH", "")) if p)
    srv = start_server(tmp_path / "box", HEARTH_REGISTRATION=None, PYTHONPATH=pythonpath)
    problems: list[str] = []
    try:
        srv.hearth_cli("create-user", "admin", "--admin", "--password", ADMIN_PW)
        with playwright_api.sync_playwright() as p:
            browser, context = launch(p)
            page = context.new_page()
            problems = watch_problems(page)
            shot = Shots(page, SHOTS)
            sign_in(page, srv.base_url, "admin", ADMIN_PW, "/admin/bridges")
            assert page.url.endswith("/admin/bridges")
            row = page.locator("#builtin-bridges li", has_text="Echo")
            assert "Off" in row.inner_text()
            shot("bridges-list-off")
            row.locator("a").click()
            page.wait_for_url("**/admin/bridges/echo")
            assert page.inner_text("#switched").startswith("Off")
            page.click("#switch-button")
            page.wait_for_url("**/admin/bridges/echo")
            deadline = time.monotonic() + 20
            while "Working" not in page.inner_text("#bridge-state"):
                assert time.monotonic() < deadline, page.inner_text("#bridge-state")
                time.sleep(0.3)
                page.reload()
            shot("bridge-on")
            page.goto(srv.base_url + "/admin")
            assert page.inner_text("#bridges-health") == "Echo: working"
            page.goto(srv.base_url + "/admin/bridges/echo")
            page.fill("input[name=greeting]", "x" * 40)
            page.click("#save-settings")
            assert "20" in page.inner_text("#bridge-settings")  # the limit, said in words
            shot("bridge-settings-refused")
            page.fill("input[name=greeting]", "hi")
            page.click("#save-settings")
            page.wait_for_url("**/admin/bridges/echo")
            assert "Settings saved" in page.content()
            assert '"greeting": "hi"' in srv.hearth_cli("bridges", "list")
            deadline = time.monotonic() + 20
            while True:
                page.click("#probe-button")
                page.wait_for_url("**/admin/bridges/echo")
                if "Check passed" in page.content():
                    break
                assert time.monotonic() < deadline, page.content()
                time.sleep(0.5)
            shot("bridge-checked")
            # an existing room linked to the echo network: its messages are answered there
            api = httpx.Client(base_url=srv.base_url, timeout=30)
            token = api.post("/_matrix/client/v3/login", json={
                "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "admin"},
                "password": ADMIN_PW}).json()["access_token"]
            api.headers["Authorization"] = f"Bearer {token}"
            room = api.post("/_matrix/client/v3/createRoom", json={"name": "Kitchen",
                                                                 "room_alias_name": "kitchen"}).json()["room_id"]
            page.fill("#room", "#kitchen:hearth.test")
            page.fill("#remote", "kitchen-chat")
            page.click("#link-button")
            page.wait_for_url("**/admin/bridges/echo")
            assert "Linked to kitchen-chat" in page.content()
            assert "linked room" in page.inner_text("#portals")
            shot("bridge-room-linked")
            api.put(f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t1", json={"msgtype": "m.text", "body": "soup?"})
            deadline = time.monotonic() + 20
            while True:
                chunk = api.get(f"/_matrix/client/v3/rooms/{room}/messages", params={"dir": "b"}).json()["chunk"]
                if any(e["content"].get("body") == "hi: soup?" for e in chunk):
                    break
                assert time.monotonic() < deadline, [e["content"].get("body") for e in chunk]
                time.sleep(0.3)
            page.fill("#room", "#nowhere:hearth.test")
            page.fill("#remote", "x")
            page.click("#link-button")
            assert "No such room here" in page.content()
            page.click("#portals button:has-text('Unlink')")
            page.wait_for_url("**/admin/bridges/echo")
            assert "no longer linked" in page.content()
            page.click("#switch-button")
            page.wait_for_url("**/admin/bridges/echo")
            assert page.inner_text("#switched").startswith("Off")
            page.goto(srv.base_url + "/admin/bridges")
            shot("bridges-list-after")
            browser.close()
        assert not problems, problems
    finally:
        srv.stop()
