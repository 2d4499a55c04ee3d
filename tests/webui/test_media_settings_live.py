"""Media settings chosen in the setup wizard or changed on the admin settings page are in force
at once, without a restart: the upload limit (and the m.upload.size clients are told), the
per-user quota, link previews; presence too."""
from __future__ import annotations

from tests.webui.test_setup_wizard import STEPS, STRONG, claim, fresh_settings, post, run_steps, running
from tests.webui.test_webui_pages import Browser

MIB = 1024 * 1024


async def matrix(client, method: str, path: str, token: str, **kw):
    r = await client.open(path, method=method, headers={"Authorization": f"Bearer {token}",
                                                        "Content-Type": "application/octet-stream"}, **kw)
    return r.status_code, await r.get_json()


async def upload(client, token: str, size: int) -> tuple[int, dict]:
    return await matrix(client, "POST", "/_matrix/media/v3/upload", token, data=b"x" * size)


async def preview_errcode(client, token: str) -> str | None:
    _, body = await matrix(client, "GET", "/_matrix/client/v1/media/preview_url?url=http://192.168.1.1/", token)
    return body.get("errcode")


async def test_wizard_and_admin_page_media_settings_apply_without_a_restart(tmp_path):
    steps = [(step, form) if step != "features" else
             (step, {"max_upload_mb": "2", "media_quota_mb": "0", "url_previews": "on"})  # presence off
             for step, form in STEPS]
    async with running(fresh_settings(tmp_path / "d")) as (app, client):
        csrf = await claim(app, client)
        await run_steps(client, csrf, steps)
        r = await post(client, "/setup/summary", {}, csrf)
        assert r.status_code == 200 and "Hearth is ready" in await r.get_data(as_text=True)
        r = await client.post("/_matrix/client/v3/login", json={
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "mum"}, "password": STRONG})
        token = (await r.get_json())["access_token"]

        # The wizard's choices, in the server that ran it.
        status, config = await matrix(client, "GET", "/_matrix/client/v1/media/config", token)
        assert (status, config) == (200, {"m.upload.size": 2 * MIB})
        status, err = await upload(client, token, 3 * MIB)
        assert (status, err["errcode"]) == (413, "M_TOO_LARGE"), err
        assert (await upload(client, token, MIB))[0] == 200
        assert await preview_errcode(client, token) != "M_UNRECOGNIZED"  # on: refused for the LAN address
        status, got = await matrix(client, "GET", "/_matrix/client/v3/presence/@mum:family.example/status", token)
        assert got == {"presence": "offline"}  # presence off

        # Changed on the admin page: in force for the next request.
        browser = Browser(client)
        await browser.get("/login")
        r = await browser.post("/login", {"username": "mum", "password": STRONG})
        assert r.status_code == 303
        await browser.get("/admin/settings")
        r = await browser.post("/admin/settings", {"registration": "token", "max_upload_mb": "5",
                                                   "media_quota_mb": "6", "presence_enabled": "on"})
        assert r.status_code == 303, await r.get_data(as_text=True)
        status, config = await matrix(client, "GET", "/_matrix/media/v3/config", token)
        assert config == {"m.upload.size": 5 * MIB}
        assert (await upload(client, token, 3 * MIB))[0] == 200
        # 1 + 3 MiB used of the 6 MiB quota: 3 MiB more is refused, 1 MiB fits.
        status, err = await upload(client, token, 3 * MIB)
        assert status == 403 and err["errcode"] == "M_USER_LIMIT_EXCEEDED", err
        assert (await upload(client, token, MIB))[0] == 200
        assert await preview_errcode(client, token) == "M_UNRECOGNIZED"  # previews now off
        await matrix(client, "PUT", "/_matrix/client/v3/presence/@mum:family.example/status", token,
                     json={"presence": "online"})
        status, got = await matrix(client, "GET", "/_matrix/client/v3/presence/@mum:family.example/status", token)
        assert got["presence"] == "online"
