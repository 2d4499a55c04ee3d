"""The setup wizard through Quart's test client: claim with the setup code, the step machine,
apply, and the wizard gone for good; registration before setup; headless set-up."""
from __future__ import annotations

import re
import stat
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from appliance.app import create_app
from appliance.settings import Settings

LAN = {"client": ("192.168.1.20", 50000)}
STRONG = "correct horse battery"


def fresh_settings(data_dir: Path, **explicit) -> Settings:
    """Like a first start: no registration policy from the operator (unless given)."""
    values = dict(data_dir=data_dir, bind="127.0.0.1:0", rate_limit_per_second=1000.0, rate_limit_burst=10000,
                  login_rate_per_second=1000.0, login_rate_burst=10000)
    values.update(explicit)
    return Settings(**values)


@asynccontextmanager
async def running(settings: Settings):
    app = create_app(settings)
    async with app.test_app() as test_app:
        yield app, test_app.test_client()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def page(client, path: str, **kw) -> tuple[int, str]:
    r = await client.get(path, scope_base=kw.pop("scope_base", LAN), **kw)
    return r.status_code, await r.get_data(as_text=True)


async def post(client, path: str, form: dict, csrf: str, scope_base=LAN):
    return await client.post(path, form={**form, "csrf_token": csrf}, scope_base=scope_base)


async def claim(app, client) -> str:
    status, html = await page(client, "/setup")
    assert status == 200
    token = csrf_of(html)
    r = await post(client, "/setup", {"setup_code": app.config["HEARTH"].web.setup.setup_code}, token)
    assert r.status_code == 303 and r.headers["Location"] == "/setup"
    return token


STEPS = [
    ("mode", {"mode": "new"}),
    ("server_name", {"server_name": "family.example"}),
    ("admin", {"username": "mum", "password": STRONG, "password_confirm": STRONG}),
    ("join", {"registration": "token"}),
    ("features", {"max_upload_mb": "20", "media_quota_mb": "0", "presence_enabled": "on"}),
    ("reach", {"reach_mode": "lan"}),
    ("bridges", {}),
]


async def run_steps(client, csrf: str, steps=STEPS) -> None:
    for step_id, form in steps:
        status, html = await page(client, f"/setup/{step_id}")
        assert status == 200, step_id
        r = await post(client, f"/setup/{step_id}", form, csrf)
        assert r.status_code == 303, (step_id, await r.get_data(as_text=True))


async def test_fresh_server_leads_every_page_to_the_wizard(tmp_path):
    async with running(fresh_settings(tmp_path / "d")) as (app, client):
        r = await client.get("/", scope_base=LAN)
        assert r.status_code == 303 and r.headers["Location"] == "/setup"
        r = await client.get("/setup", scope_base=LAN)
        assert r.status_code == 200
        h = r.headers
        assert "script-src 'self'" in h["Content-Security-Policy"] and "unsafe-inline" not in h["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
        assert h["X-Frame-Options"] == "DENY" and h["Referrer-Policy"] == "same-origin"
        assert "Access-Control-Allow-Origin" not in h
        cookie = h["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
        # The Matrix API is not redirected; it registers nobody yet.
        r = await client.post("/_matrix/client/v3/register", json={"username": "x", "password": STRONG})
        assert r.status_code == 403
        body = await r.get_json()
        assert body["errcode"] == "M_FORBIDDEN" and body["error"] == "This server is not set up yet"
        assert (await client.get("/_matrix/client/versions")).status_code == 200


async def test_setup_code_is_made_once_and_kept_private(tmp_path):
    data = tmp_path / "d"
    async with running(fresh_settings(data)) as (app, client):
        code = app.config["HEARTH"].web.setup.setup_code
    path = data / "setup-code.txt"
    assert path.read_text().strip() == code
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    async with running(fresh_settings(data)) as (app, client):  # a restart keeps the same code
        assert app.config["HEARTH"].web.setup.setup_code == code
    other = tmp_path / "other"
    async with running(fresh_settings(other)) as (app, client):  # never shipped: each server its own
        assert app.config["HEARTH"].web.setup.setup_code != code


async def test_wrong_setup_code_is_refused(tmp_path):
    async with running(fresh_settings(tmp_path / "d")) as (app, client):
        status, html = await page(client, "/setup")
        csrf = csrf_of(html)
        r = await post(client, "/setup", {"setup_code": "AAAA-BBBB-CCCC"}, csrf)
        assert r.status_code == 400
        assert "That is not the setup code" in await r.get_data(as_text=True)
        r = await client.get("/setup/mode", scope_base=LAN)  # not claimed: back to the code
        assert r.status_code == 303 and r.headers["Location"] == "/setup"
        r = await post(client, "/setup/mode", {"mode": "new"}, csrf)
        assert r.status_code == 303 and r.headers["Location"] == "/setup"
        assert (await app.config["HEARTH"].web.setup.progress())["data"] == {}


async def test_setup_code_tries_are_rate_limited_per_address(tmp_path):
    async with running(fresh_settings(tmp_path / "d")) as (app, client):
        code = app.config["HEARTH"].web.setup.setup_code
        csrf = csrf_of((await page(client, "/setup"))[1])
        for _ in range(5):
            assert (await post(client, "/setup", {"setup_code": "WRONG-CODE"}, csrf)).status_code == 400
        r = await post(client, "/setup", {"setup_code": code}, csrf)  # even the right code, for now
        assert r.status_code == 429
        assert "Too many tries" in await r.get_data(as_text=True)
        # Another address on the LAN is not affected.
        other = {"client": ("192.168.1.21", 50000)}
        csrf2 = csrf_of((await page(client, "/setup", scope_base=other))[1])
        r = await post(client, "/setup", {"setup_code": code}, csrf2, scope_base=other)
        assert r.status_code == 303


@pytest.mark.parametrize("addr,allowed", [
    ("127.0.0.1", True), ("::1", True), ("10.0.0.7", True), ("172.16.5.4", True), ("192.168.178.2", True),
    ("169.254.10.1", True), ("fe80::1", True), ("fd12:3456::1", True), ("::ffff:192.168.1.4", True),
    ("8.8.8.8", False), ("2001:4860:4860::8888", False), ("100.64.0.1", False), ("::ffff:8.8.8.8", False),
])
async def test_wizard_answers_only_local_clients(tmp_path, addr, allowed):
    async with running(fresh_settings(tmp_path / "d")) as (app, client):
        r = await client.get("/setup", scope_base={"client": (addr, 1234)})
        assert r.status_code == (200 if allowed else 404)
        if not allowed:
            code = app.config["HEARTH"].web.setup.setup_code
            r = await client.post("/setup", form={"setup_code": code}, scope_base={"client": (addr, 1234)})
            assert r.status_code in (403, 404)  # no session, hence no CSRF token either way
            r = await client.get("/", scope_base={"client": (addr, 1234)})
            assert r.headers.get("Location") != "/setup"


async def test_a_proxy_does_not_make_a_remote_client_local(tmp_path):
    async with running(fresh_settings(tmp_path / "d")) as (app, client):
        r = await client.get("/setup", scope_base={"client": ("127.0.0.1", 1)},
                             headers={"X-Forwarded-For": "8.8.4.4, 127.0.0.1"})
        assert r.status_code == 404
        r = await client.get("/setup", scope_base={"client": ("8.8.4.4", 1)}, headers={"Remote-Addr": "127.0.0.1"})
        assert r.status_code == 404


async def test_every_post_needs_the_session_csrf_token(tmp_path):
    async with running(fresh_settings(tmp_path / "d")) as (app, client):
        code = app.config["HEARTH"].web.setup.setup_code
        await page(client, "/setup")
        r = await client.post("/setup", form={"setup_code": code}, scope_base=LAN)
        assert r.status_code == 403
        r = await client.post("/setup", form={"setup_code": code, "csrf_token": "forged"}, scope_base=LAN)
        assert r.status_code == 403
        csrf = csrf_of((await page(client, "/setup"))[1])
        r = await client.post("/setup", form={"setup_code": code, "csrf_token": csrf}, scope_base=LAN,
                              headers={"Origin": "http://evil.example"})
        assert r.status_code == 403
        assert (await post(client, "/setup", {"setup_code": code}, csrf)).status_code == 303


async def test_step_machine_start_form_submit_next(tmp_path):
    async with running(fresh_settings(tmp_path / "d")) as (app, client):
        csrf = await claim(app, client)
        r = await client.get("/setup", scope_base=LAN)
        assert r.status_code == 303 and r.headers["Location"] == "/setup/mode"
        # Cannot skip ahead.
        r = await client.get("/setup/summary", scope_base=LAN)
        assert r.headers["Location"] == "/setup/mode"
        status, html = await page(client, "/setup/mode")
        assert 'name="mode" value="new"' in html and 'value="restore"' in html
        r = await post(client, "/setup/mode", {"mode": "restore"}, csrf)  # the upload page (test_wizard_restore)
        assert r.status_code == 303 and r.headers["Location"] == "/setup/restore"
        r = await post(client, "/setup/mode", {"mode": "new"}, csrf)
        assert r.headers["Location"] == "/setup/server_name"

        status, html = await page(client, "/setup/server_name")
        assert "can never be changed" in html and 'name="server_name"' in html
        r = await post(client, "/setup/server_name", {"server_name": "not a name!"}, csrf)
        assert r.status_code == 400 and "looks like hearth.local" in await r.get_data(as_text=True)
        r = await post(client, "/setup/server_name", {"server_name": "Family.Example"}, csrf)
        assert r.headers["Location"] == "/setup/admin"

        status, html = await page(client, "/setup/admin")
        assert "data-strength-meter" in html and 'autocomplete="new-password"' in html
        for bad, message in [({"password": "short", "password_confirm": "short"}, "at least 10"),
                             ({"password": "password123", "password_confirm": "password123"}, "too easy"),
                             ({"password": STRONG, "password_confirm": STRONG + "x"}, "not the same")]:
            r = await post(client, "/setup/admin", {"username": "mum", **bad}, csrf)
            body = await r.get_data(as_text=True)
            assert r.status_code == 400 and message in body
            assert STRONG not in body  # a password is never echoed back
        await run_steps(client, csrf, STEPS[2:])
        status, html = await page(client, "/setup/summary")
        assert "family.example" in html and "@mum:family.example" in html and "20 MB" in html
        progress = await app.config["HEARTH"].web.setup.progress()
        assert progress["step"] == "summary"
        assert STRONG not in str(progress) and progress["data"]["admin"]["password_hash"]
        # Going back and changing a step keeps the furthest step reached.
        r = await post(client, "/setup/join", {"registration": "closed"}, csrf)
        assert r.headers["Location"] == "/setup/features"
        assert (await app.config["HEARTH"].web.setup.progress())["step"] == "summary"


async def test_apply_then_the_wizard_is_gone_for_good(tmp_path):
    data = tmp_path / "d"
    async with running(fresh_settings(data)) as (app, client):
        csrf = await claim(app, client)
        await run_steps(client, csrf)
        r = await post(client, "/setup/summary", {}, csrf)
        html = await r.get_data(as_text=True)
        assert r.status_code == 200 and "Hearth is ready" in html
        token = re.search(r'id="invite-code">([^<]+)<', html).group(1)
        assert "<svg" in html and "/join/" + token in html and "fluffychat.im" in html
        hearth = app.config["HEARTH"]
        assert hearth.settings.server_name == "family.example"
        mum = await hearth.core.account_store.get_user("@mum:family.example")
        assert mum.admin and await hearth.core.auth.check_password("@mum:family.example", STRONG)
        assert hearth.settings.registration == "token" and hearth.settings.max_upload_bytes == 20 * 1024 * 1024
        assert hearth.settings.media_quota_bytes == 0 and hearth.settings.url_previews is False
        assert not (data / "setup-code.txt").exists()

        # Every wizard route is gone, and nothing can be replayed.
        for path in ["/setup", "/setup/mode", "/setup/summary", "/setup/admin"]:
            assert (await client.get(path, scope_base=LAN)).status_code == 404
        for path, form in [("/setup", {"setup_code": "x"}), ("/setup/summary", {}),  # the same POSTs again
                           ("/setup/admin", {"username": "evil", "password": STRONG, "password_confirm": STRONG})]:
            assert (await post(client, path, form, csrf)).status_code == 404
        assert await hearth.core.account_store.get_user("@evil:family.example") is None
        assert (await client.get("/", scope_base=LAN)).status_code != 303  # no redirect any more

        # The invite works with the Matrix API; the join page explains how to connect.
        r = await client.post("/_matrix/client/v3/register", json={"username": "kid", "password": STRONG})
        assert r.status_code == 401
        session = (await r.get_json())["session"]
        r = await client.post("/_matrix/client/v3/register", json={
            "username": "kid", "password": STRONG,
            "auth": {"type": "m.login.registration_token", "token": token, "session": session}})
        r = await client.post("/_matrix/client/v3/register", json={
            "username": "kid", "password": STRONG, "auth": {"type": "m.login.dummy", "session": session}})
        assert r.status_code == 200 and (await r.get_json())["user_id"] == "@kid:family.example"
        status, html = await page(client, f"/join/{token}")
        assert status == 200 and token in html
        assert (await page(client, "/join/nope"))[0] == 404

    async with running(fresh_settings(data)) as (app, client):  # after a restart: still gone, name kept
        assert app.config["HEARTH"].settings.server_name == "family.example"
        assert (await client.get("/setup", scope_base=LAN)).status_code == 404
        assert app.config["HEARTH"].web.setup.setup_code is None
    with pytest.raises(Exception, match="the server name never changes"):  # not even through the environment
        async with running(fresh_settings(data, server_name="other.example")):
            pass


async def test_progress_resumes_after_a_restart(tmp_path):
    data = tmp_path / "d"
    async with running(fresh_settings(data)) as (app, client):
        csrf = await claim(app, client)
        await run_steps(client, csrf, STEPS[:3])
        cookie = client.cookie_jar  # the browser keeps its cookie across the server's restart
    async with running(fresh_settings(data)) as (app, client):
        client.cookie_jar = cookie
        r = await client.get("/setup", scope_base=LAN)
        assert r.status_code == 303 and r.headers["Location"] == "/setup/join"
        status, html = await page(client, "/setup/server_name")
        assert 'value="family.example"' in html
        await run_steps(client, csrf_of(html), STEPS[3:])
        r = await post(client, "/setup/summary", {}, csrf_of(html))
        assert r.status_code == 200
        assert await app.config["HEARTH"].core.account_store.get_user("@mum:family.example") is not None


async def test_the_name_cannot_change_under_existing_accounts(tmp_path):
    # As the test suite runs a server: registration chosen by the operator, no admin yet.
    settings = fresh_settings(tmp_path / "d", server_name="hearth.test", registration="open")
    async with running(settings) as (app, client):
        r = await client.post("/_matrix/client/v3/register", json={
            "username": "early", "password": STRONG, "auth": {"type": "m.login.dummy"}})
        assert r.status_code == 200  # the operator's explicit policy: registration works
        assert (await client.get("/setup", scope_base=LAN)).status_code == 200  # the wizard is still offered
        csrf = await claim(app, client)
        await run_steps(client, csrf, STEPS[:1])
        status, html = await page(client, "/setup/server_name")
        assert "operator has set this name" in html and "readonly" in html
        r = await post(client, "/setup/server_name", {"server_name": "elsewhere.example"}, csrf)
        assert r.status_code == 303  # the operator's name is kept, whatever the form says
        assert (await app.config["HEARTH"].web.setup.progress())["data"]["server_name"] == {"server_name": "hearth.test"}
        hs = app.config["HEARTH"].web.server_settings
        with pytest.raises(Exception, match="already has accounts|operator set"):
            await hs.check_server_name("elsewhere.example")


async def test_headless_operator_needs_no_wizard(tmp_path):
    settings = fresh_settings(tmp_path / "d", server_name="home.test", registration="token")
    async with running(settings) as (app, client):
        hearth = app.config["HEARTH"]
        assert (await client.get("/setup", scope_base=LAN)).status_code == 200
        await hearth.accounts.registration.create_user("admin", STRONG, admin=True)  # `hearth create-user --admin`
        assert (await client.get("/setup", scope_base=LAN)).status_code == 404
        assert (await client.get("/", scope_base=LAN)).headers.get("Location") != "/setup"
        token = await hearth.accounts.registration.create_registration_token()
        r = await client.post("/_matrix/client/v3/register", json={"username": "gran", "password": STRONG})
        assert r.status_code == 401 and "m.login.registration_token" in str(await r.get_json())
        assert await hearth.web.setup.completed() == "headless"
        del token
    # Deactivating that admin later does not bring the wizard back.
    async with running(fresh_settings(tmp_path / "d", server_name="home.test")) as (app, client):
        await app.config["HEARTH"].core.account_store.set_deactivated("@admin:home.test")
        assert (await client.get("/setup", scope_base=LAN)).status_code == 404


async def test_without_admin_or_operator_policy_nobody_registers(tmp_path):
    async with running(fresh_settings(tmp_path / "d", server_name="home.test")) as (app, client):
        r = await client.post("/_matrix/client/r0/register", json={"username": "x", "password": STRONG})
        assert r.status_code == 403 and (await r.get_json())["errcode"] == "M_FORBIDDEN"
