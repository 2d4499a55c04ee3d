"""Security of the pages and the wizard (issue 12): where a sign-in may lead, which Host names
the pages answer to (DNS rebinding), and who counts as "on the LAN" behind a proxy."""
from __future__ import annotations

import re
import socket

import pytest

from tests.webui.test_setup_wizard import (LAN, STEPS, STRONG, claim, csrf_of, fresh_settings, page, post, run_steps,
                                           running)
from tests.webui.test_webui_pages import ADMIN_PW, Browser
from tests.webui.test_webui_pages import running as running_pages


# -- where a sign-in leads ------------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "/\t/evil.example", "/\n/evil.example", "/\r//evil.example", "/\\evil.example", "/\\/evil.example",
    "//evil.example", "/ /evil.example", "http://evil.example/", "javascript:alert(1)", "/\x00/evil.example",
])
async def test_sign_in_never_leads_to_another_site(tmp_path, target):
    async with running_pages(tmp_path) as (app, h, test_app):
        b = Browser(test_app.test_client())
        await b.get("/login")
        r = await b.post("/login", {"username": "admin", "password": ADMIN_PW, "next": target})
        assert r.status_code == 303 and r.headers["Location"] == "/admin"
        # Signed in already: /login?next= redirects at once; the same rule applies.
        r = await b.client.get("/login", query_string={"next": target})
        assert r.status_code == 303 and r.headers["Location"] == "/"


async def test_percent_encoded_tab_in_next_is_refused(tmp_path):
    async with running_pages(tmp_path) as (app, h, test_app):
        b = Browser(test_app.test_client())
        await b.login("admin", ADMIN_PW)
        r = await b.client.get("/login?next=/%09/evil.example")
        assert r.status_code == 303 and r.headers["Location"] == "/"
        r = await b.client.get("/login?next=/admin/people%3Fx%3D1")  # a real path still works
        assert r.headers["Location"] == "/admin/people?x=1"


# -- Host names (DNS rebinding) -------------------------------------------------------------------

async def test_wizard_refuses_a_foreign_host_name(tmp_path):
    async with running(fresh_settings(tmp_path / "d", allowed_hosts="chat.smith.example")) as (app, client):
        for host in ["evil.example", "evil.example:8008", "hearth.local.evil.example"]:
            r = await client.get("/setup", scope_base=LAN, headers={"Host": host})
            assert r.status_code == 400, host
            body = await r.get_data(as_text=True)
            assert "does not answer to that name" in body and "setup code" not in body.lower()
            assert "Set-Cookie" not in r.headers
            r = await client.get("/", scope_base=LAN, headers={"Host": host})
            assert r.status_code == 400  # not a redirect into the wizard
        for host in ["localhost", "localhost:8008", "hearth.local", "HEARTH.LOCAL.", "hearth.local:8008",
                     "192.168.1.5:8008", "[fe80::1]:8008", "127.0.0.1", "chat.smith.example",
                     socket.gethostname().split(".")[0] + ".local"]:
            r = await client.get("/setup", scope_base=LAN, headers={"Host": host})
            assert r.status_code == 200, host
        # The Matrix API is not a page: clients may reach it under any name.
        r = await client.get("/_matrix/client/versions", headers={"Host": "evil.example"})
        assert r.status_code == 200


async def test_pages_answer_to_the_server_name_and_public_url(tmp_path):
    async with running_pages(tmp_path, public_baseurl="https://matrix.smith.example:8448/") as (app, h, test_app):
        client = test_app.test_client()
        for host, status in [("hearth.test", 200), ("matrix.smith.example:8448", 200), ("evil.example", 400)]:
            r = await client.get("/login", headers={"Host": host})
            assert r.status_code == status, host
        r = await client.post("/login", form={"username": "admin", "password": ADMIN_PW},
                              headers={"Host": "evil.example"})
        assert r.status_code == 400


# -- proxies ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [
    {"Forwarded": "for=8.8.8.8"},
    {"Forwarded": 'for="[2001:4860:4860::8888]:4711";proto=http'},
    {"Forwarded": "for=192.168.1.9, for=8.8.8.8"},
    {"X-Forwarded-For": "8.8.8.8"},
])
async def test_an_unknown_proxy_forwarding_a_remote_client_gets_no_wizard(tmp_path, header):
    """A reverse proxy on this host that nobody declared: the peer is local, but the standard
    Forwarded header (like X-Forwarded-For) says the client is not."""
    async with running(fresh_settings(tmp_path / "d")) as (app, client):
        r = await client.get("/setup", scope_base={"client": ("127.0.0.1", 1)}, headers=header)
        assert r.status_code == 404


async def test_headers_from_an_untrusted_peer_never_make_it_local_or_change_its_address(tmp_path):
    async with running(fresh_settings(tmp_path / "d")) as (app, client):
        remote = {"client": ("8.8.8.8", 1)}
        for header in [{"Forwarded": "for=127.0.0.1"}, {"X-Forwarded-For": "192.168.1.2"}]:
            assert (await client.get("/setup", scope_base=remote, headers=header)).status_code == 404
        # Rate limits count the peer, whatever addresses it claims to forward.
        csrf = csrf_of((await page(client, "/setup"))[1])
        for i in range(5):
            r = await client.post("/setup", form={"setup_code": "WRONG-CODE", "csrf_token": csrf}, scope_base=LAN,
                                  headers={"X-Forwarded-For": f"192.168.7.{i}"})
            assert r.status_code == 400
        r = await client.post("/setup", form={"setup_code": "WRONG-CODE", "csrf_token": csrf}, scope_base=LAN,
                              headers={"Forwarded": "for=192.168.7.99"})
        assert r.status_code == 429


async def test_a_trusted_proxy_names_the_client(tmp_path):
    proxy = {"client": ("10.1.2.3", 1)}
    settings = fresh_settings(tmp_path / "d", trusted_proxies="10.1.2.0/24, ::1")
    async with running(settings) as (app, client):
        code = app.config["HEARTH"].web.setup.setup_code
        assert (await client.get("/setup", scope_base=proxy, headers={"Forwarded": "for=8.8.8.8"})).status_code == 404
        assert (await client.get("/setup", scope_base=proxy,
                                 headers={"X-Forwarded-For": "8.8.8.8, 10.1.2.4"})).status_code == 404
        # The client is the rightmost address that is not a trusted proxy: a forged left part is ignored.
        r = await client.get("/setup", scope_base=proxy, headers={"X-Forwarded-For": "192.168.1.1, 8.8.8.8"})
        assert r.status_code == 404
        status, html = await page(client, "/setup", scope_base=proxy,
                                  headers={"Forwarded": 'for=192.168.1.30;proto=https, for="10.1.2.9"'})
        assert status == 200
        csrf = csrf_of(html)
        # Each forwarded client has its own setup-code bucket; the proxy's address is not the key.
        for _ in range(5):
            r = await post(client, "/setup", {"setup_code": "WRONG-CODE"}, csrf, scope_base=proxy)
        r = await client.post("/setup", form={"setup_code": code, "csrf_token": csrf}, scope_base=proxy,
                              headers={"Forwarded": "for=192.168.1.31"})
        assert r.status_code == 303


async def test_matrix_api_rate_limits_key_on_the_client_a_trusted_proxy_names(tmp_path):
    from tests.conftest import test_settings

    settings = test_settings(tmp_path / "d", trusted_proxies="127.0.0.1", login_rate_per_second=0.001,
                             login_rate_burst=2)
    from appliance.app import create_app

    app = create_app(settings)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "nobody"}, "password": "x"}
        proxy = {"client": ("127.0.0.1", 1)}
        for _ in range(2):
            r = await client.post("/_matrix/client/v3/login", json=body, scope_base=proxy,
                                  headers={"Forwarded": "for=192.168.1.40"})
            assert r.status_code == 403
        r = await client.post("/_matrix/client/v3/login", json=body, scope_base=proxy,
                              headers={"Forwarded": "for=192.168.1.40"})
        assert r.status_code == 429
        other = {**body, "identifier": {"type": "m.id.user", "user": "somebody"}}
        r = await client.post("/_matrix/client/v3/login", json=other, scope_base=proxy,
                              headers={"Forwarded": "for=192.168.1.41"})
        assert r.status_code == 403


# -- the first admin ----------------------------------------------------------------------------------

async def _register(client, username: str) -> str:
    r = await client.post("/_matrix/client/v3/register", json={
        "username": username, "password": "someone else's", "auth": {"type": "m.login.dummy"}})
    assert r.status_code == 200, await r.get_json()
    return (await r.get_json())["access_token"]


async def _is_admin_api_open(client, token: str) -> bool:
    r = await client.get("/_synapse/admin/v2/users?from=0", headers={"Authorization": f"Bearer {token}"})
    return r.status_code == 200


async def test_wizard_never_adopts_an_account_someone_registered_first(tmp_path):
    """Setup pending, registration opened by the operator: someone registers @admin first."""
    settings = fresh_settings(tmp_path / "d", server_name="home.test", registration="open")
    async with running(settings) as (app, client):
        token = await _register(client, "admin")
        csrf = await claim(app, client)
        await run_steps(client, csrf, STEPS[:2])
        form = {"username": "Admin", "password": STRONG, "password_confirm": STRONG}
        r = await post(client, "/setup/admin", form, csrf)
        body = await r.get_data(as_text=True)
        assert r.status_code == 400
        assert "@admin:home.test is already taken" in body and "choose another user name" in body
        assert STRONG not in body
        assert (await app.config["HEARTH"].web.setup.progress())["step"] == "admin"  # not past this step
        hearth = app.config["HEARTH"]
        assert not (await hearth.core.account_store.get_user("@admin:home.test")).admin
        assert not await _is_admin_api_open(client, token)
        # Another name works, and setup completes with it.
        await run_steps(client, csrf, [("admin", {**form, "username": "mum"})] + STEPS[3:])
        r = await post(client, "/setup/summary", {}, csrf)
        assert r.status_code == 200
        assert (await hearth.core.account_store.get_user("@mum:home.test")).admin
        assert not (await hearth.core.account_store.get_user("@admin:home.test")).admin
        assert not await _is_admin_api_open(client, token)


async def test_a_name_taken_after_the_account_step_is_refused_at_the_end(tmp_path):
    settings = fresh_settings(tmp_path / "d", server_name="home.test", registration="open")
    async with running(settings) as (app, client):
        csrf = await claim(app, client)
        await run_steps(client, csrf, [STEPS[0], ("server_name", {"server_name": "home.test"})] + STEPS[2:])
        token = await _register(client, "mum")  # between the account step and the summary
        r = await post(client, "/setup/summary", {}, csrf)
        body = await r.get_data(as_text=True)
        assert r.status_code == 400 and "@mum:home.test is already taken" in body
        hearth = app.config["HEARTH"]
        assert not (await hearth.core.account_store.get_user("@mum:home.test")).admin
        assert not await _is_admin_api_open(client, token)
        assert await hearth.web.setup.pending()  # the wizard goes on: choose another name
        r = await post(client, "/setup/admin", {"username": "mum", "password": STRONG, "password_confirm": STRONG},
                       csrf)
        assert r.status_code == 400
        await run_steps(client, csrf, [("admin", {"username": "dad", "password": STRONG, "password_confirm": STRONG})])
        r = await post(client, "/setup/summary", {}, csrf)
        assert r.status_code == 200 and (await hearth.core.account_store.get_user("@dad:home.test")).admin


async def test_an_interrupted_apply_finds_its_own_admin_again(tmp_path):
    """The wizard's own account (made by an apply that was cut short) is not "taken"."""
    settings = fresh_settings(tmp_path / "d", server_name="home.test")
    async with running(settings) as (app, client):
        csrf = await claim(app, client)
        await run_steps(client, csrf, [STEPS[0], ("server_name", {"server_name": "home.test"})] + STEPS[2:])
        hearth = app.config["HEARTH"]
        progress = await hearth.web.setup.progress()
        admin = progress["data"]["admin"]
        await hearth.core.account_store.create_user("@mum:home.test", admin["password_hash"], admin=True, displayname="mum")
        await hearth.web.setup.start_applying()  # as the cut-short apply left it
        r = await post(client, "/setup/summary", {}, csrf)
        assert r.status_code == 200 and "Hearth is ready" in await r.get_data(as_text=True)
        assert await hearth.core.auth.check_password("@mum:home.test", STRONG)


# -- the setup code, from many addresses ---------------------------------------------------------------

async def test_setup_code_guesses_from_many_addresses_slow_down_then_lock(tmp_path):
    async with running(fresh_settings(tmp_path / "d")) as (app, client):
        setup = app.config["HEARTH"].web.setup
        now = [5000.0]
        setup.code_throttle.clock = lambda: now[0]
        csrf = csrf_of((await page(client, "/setup"))[1])

        async def try_code(code: str, i: int):
            return await post(client, "/setup", {"setup_code": code}, csrf,
                              scope_base={"client": (f"192.168.{i // 200}.{i % 200 + 2}", 1)})
        for i in range(10):  # one try from each of ten addresses: within every per-address limit
            assert (await try_code("WRONG-CODE-X", i)).status_code == 400
        r = await try_code(setup.setup_code, 50)  # the right code, from an address never seen before
        assert r.status_code == 429
        assert re.search(r"Too many tries\. Wait \d+ seconds, then try again\.", await r.get_data(as_text=True))
        for i in range(10, 20):
            now[0] += 10
            assert (await try_code("WRONG-CODE-X", i)).status_code == 400
        now[0] += 10
        r = await try_code(setup.setup_code, 51)
        assert r.status_code == 429 and "Wait 15 minutes" in await r.get_data(as_text=True)
        now[0] += 15 * 60
        assert (await try_code(setup.setup_code, 52)).status_code == 303
