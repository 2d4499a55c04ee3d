"""Every password change or reset, and every deactivation, ends the account's web sessions
(issue 12 item 3), whichever way it is made: the Matrix API, the admin API, the pages, the
command line. Device tokens end as the spec says: /account/password keeps the requesting device
(logout_devices defaults to true); an admin reset signs out every device unless told not to."""
from __future__ import annotations

import re
import subprocess
import sys

import httpx

from tests.conftest import ROOT, start_server
from tests.webui.test_webui_pages import ADMIN_PW, MEMBER_PW, Browser, matrix_login, running

KIM = "@kim:hearth.test"
NEW_PW = "a fresh start today"


async def token_of(client, user: str, password: str) -> str:
    r = await matrix_login(client, user, password)
    assert r.status_code == 200
    return (await r.get_json())["access_token"]


async def works(client, token: str) -> bool:
    r = await client.get("/_matrix/client/v3/account/whoami", headers={"Authorization": f"Bearer {token}"})
    return r.status_code == 200


async def web_signed_in(b: Browser) -> bool:
    r = await b.client.get("/me")
    return r.status_code == 200


async def export_works(b: Browser) -> bool:
    r = await b.client.post("/me/export", form={"csrf_token": b.csrf})
    return r.status_code == 200 and r.mimetype == "application/zip"


async def test_matrix_api_password_change_ends_web_sessions_and_other_devices(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        client = test_app.test_client()
        web = Browser(test_app.test_client())
        await web.login("kim", MEMBER_PW)
        assert await export_works(web)
        phone, laptop = await token_of(client, "kim", MEMBER_PW), await token_of(client, "kim", MEMBER_PW)
        r = await client.post("/_matrix/client/v3/account/password", headers={"Authorization": f"Bearer {phone}"},
                              json={"new_password": NEW_PW, "auth": {
                                  "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "kim"},
                                  "password": MEMBER_PW}})
        assert r.status_code == 200, await r.get_json()
        assert not await web_signed_in(web)
        assert not await export_works(web)
        assert await works(client, phone) and not await works(client, laptop)


async def test_logout_devices_false_keeps_devices_but_not_web_sessions(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        client = test_app.test_client()
        web = Browser(test_app.test_client())
        await web.login("kim", MEMBER_PW)
        phone, laptop = await token_of(client, "kim", MEMBER_PW), await token_of(client, "kim", MEMBER_PW)
        r = await client.post("/_matrix/client/v3/account/password", headers={"Authorization": f"Bearer {phone}"},
                              json={"new_password": NEW_PW, "logout_devices": False, "auth": {
                                  "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "kim"},
                                  "password": MEMBER_PW}})
        assert r.status_code == 200
        assert not await web_signed_in(web)
        assert await works(client, phone) and await works(client, laptop)


async def test_admin_api_reset_ends_web_sessions_and_every_device(tmp_path):
    async with running(tmp_path) as (app, h, test_app):
        client = test_app.test_client()
        admin = await token_of(client, "admin", ADMIN_PW)
        web = Browser(test_app.test_client())
        await web.login("kim", MEMBER_PW)
        phone = await token_of(client, "kim", MEMBER_PW)
        r = await client.post(f"/_synapse/admin/v1/reset_password/{KIM}", headers={"Authorization": f"Bearer {admin}"},
                              json={"new_password": NEW_PW})
        assert r.status_code == 200
        assert not await web_signed_in(web) and not await export_works(web)
        assert not await works(client, phone)
        # logout_devices false (and the v2 users API): devices stay, web sessions still end.
        await web.login("kim", NEW_PW)
        phone = await token_of(client, "kim", NEW_PW)
        r = await client.put(f"/_synapse/admin/v2/users/{KIM}", headers={"Authorization": f"Bearer {admin}"},
                             json={"password": MEMBER_PW, "logout_devices": False})
        assert r.status_code == 200
        assert not await web_signed_in(web)
        assert await works(client, phone)
        assert await works(client, admin)  # the admin's own device is not the user's


async def test_deactivation_ends_web_sessions_for_good(tmp_path):
    """Deactivated and then re-activated by an admin: the old browser session does not come back."""
    async with running(tmp_path) as (app, h, test_app):
        client = test_app.test_client()
        admin = await token_of(client, "admin", ADMIN_PW)
        web = Browser(test_app.test_client())
        await web.login("kim", MEMBER_PW)
        auth = {"Authorization": f"Bearer {admin}"}
        r = await client.post(f"/_synapse/admin/v1/deactivate/{KIM}", headers=auth, json={})
        assert r.status_code == 200
        r = await client.put(f"/_synapse/admin/v2/users/{KIM}", headers=auth,
                             json={"deactivated": False, "password": NEW_PW})
        assert r.status_code == 200
        assert (await matrix_login(client, "kim", NEW_PW)).status_code == 200
        assert not await web_signed_in(web)
        # The same through the Matrix API's own deactivation.
        await web.login("kim", NEW_PW)
        kim = await token_of(client, "kim", NEW_PW)
        r = await client.post("/_matrix/client/v3/account/deactivate", headers={"Authorization": f"Bearer {kim}"},
                              json={"auth": {"type": "m.login.password", "password": NEW_PW,
                                             "identifier": {"type": "m.id.user", "user": "kim"}}})
        assert r.status_code == 200
        await client.put(f"/_synapse/admin/v2/users/{KIM}", headers=auth, json={"deactivated": False, "password": NEW_PW})
        assert not await web_signed_in(web)


def test_cli_reset_password_ends_web_sessions(tmp_path):
    srv = start_server(tmp_path / "data")
    try:
        base = srv.base_url
        srv.hearth_cli("create-user", "admin", "--password", ADMIN_PW, "--admin")  # setup is done
        r = httpx.post(f"{base}/_matrix/client/v3/register",
                       json={"username": "kim", "password": MEMBER_PW, "auth": {"type": "m.login.dummy"}})
        token = r.json()["access_token"]
        with httpx.Client(base_url=base) as web:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/login").text).group(1)
            r = web.post("/login", data={"username": "kim", "password": MEMBER_PW, "csrf_token": csrf})
            assert r.status_code == 303
            assert web.get("/me").status_code == 200
            out = subprocess.run([sys.executable, "-m", "appliance", "reset-password", "kim", "--password", NEW_PW],
                                 env=srv.env, capture_output=True, text=True, timeout=60, cwd=ROOT)
            assert out.returncode == 0, out.stderr
            assert web.get("/me").status_code == 303  # to the sign-in page
        assert httpx.get(f"{base}/_matrix/client/v3/account/whoami",
                         headers={"Authorization": f"Bearer {token}"}).status_code == 401
    finally:
        srv.stop()
