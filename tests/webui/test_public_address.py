"""The server's address (issue 12 item 10): with the README's defaults (0.0.0.0, no
HEARTH_PUBLIC_BASEURL) nothing hands `localhost` to the family; the wizard proposes the address
from how the box is reached, stores it, and the admin pages can correct it."""
from __future__ import annotations

import re

import pytest

from appliance import public_address
from appliance.__main__ import _setup_urls
from appliance.settings import Settings

from .test_setup_wizard import LAN, STEPS, STRONG, claim, fresh_settings, page, post, running

ON_THE_BOX = {"client": ("127.0.0.1", 50000)}


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A machine named "hearth" on 192.168.1.5, with (avahi=True) or without an mDNS responder."""
    responder = tmp_path / "avahi-socket"

    def set_up(avahi: bool, lan: str | None = "192.168.1.5") -> None:
        if avahi:
            responder.touch()
        monkeypatch.setattr(public_address, "MDNS_RESPONDER_SOCKETS", (str(responder),))
        monkeypatch.setattr(public_address.socket, "gethostname", lambda: "hearth")
        monkeypatch.setattr(public_address, "primary_lan_address", lambda: lan)
    return set_up


def test_derived_address_is_the_local_name_or_the_lan_address(machine):
    machine(avahi=True)
    assert public_address.derived_base_url("0.0.0.0", 8008, lan_discovery=True) == "http://hearth.local:8008"
    assert public_address.derived_base_url("0.0.0.0", 8008, lan_discovery=False) == "http://192.168.1.5:8008"
    assert public_address.derived_base_url("192.168.1.7", 8008, lan_discovery=True) == "http://192.168.1.7:8008"


def test_without_an_mdns_responder_the_lan_address(machine):
    machine(avahi=False)
    assert public_address.derived_base_url("0.0.0.0", 8008, lan_discovery=True) == "http://192.168.1.5:8008"


def test_localhost_only_without_any_network(machine):
    machine(avahi=False, lan=None)
    assert public_address.derived_base_url("0.0.0.0", 8008, lan_discovery=True) == "http://localhost:8008"


def test_readme_defaults_never_give_localhost(machine, tmp_path):
    machine(avahi=False)
    settings = Settings(data_dir=tmp_path)           # bind 0.0.0.0:8008, no public_baseurl
    assert settings.base_url() == "http://192.168.1.5:8008"
    assert Settings(data_dir=tmp_path, public_baseurl="https://chat.example.org/").base_url() == \
        "https://chat.example.org"


def test_the_printed_wizard_address_comes_first_and_localhost_is_marked(machine, monkeypatch):
    machine(avahi=True)
    import appliance.lan_discovery as lan_discovery
    monkeypatch.setattr(lan_discovery, "lan_addresses", lambda version: ["192.168.1.5"])
    urls = _setup_urls("http://hearth.local:8008", "0.0.0.0", 8008)
    assert urls[0] == "http://hearth.local:8008/setup"
    assert "http://192.168.1.5:8008/setup" in urls
    assert urls[-1].startswith("http://localhost:8008/setup") and "this machine only" in urls[-1]


def test_the_suggestion_is_never_a_loopback_the_browser_used():
    assert public_address.suggestion("http://hearth.local:8008", "http://192.168.1.5:8008/", False) == \
        "http://192.168.1.5:8008"
    assert public_address.suggestion("http://hearth.local:8008", "http://localhost:8008/", False) == \
        "http://hearth.local:8008"
    assert public_address.suggestion("https://chat.example.org", "http://192.168.1.5:8008/", True) == \
        "https://chat.example.org"


async def test_well_known_gives_the_derived_address(machine, tmp_path):
    machine(avahi=True)
    async with running(fresh_settings(tmp_path / "d", bind="0.0.0.0:8008")) as (app, client):
        r = await client.get("/.well-known/matrix/client", scope_base=LAN)
        assert (await r.get_json())["m.homeserver"]["base_url"] == "http://hearth.local:8008"


def address_field(html: str) -> str:
    return re.search(r'id="public_baseurl" name="public_baseurl"[^>]* value="([^"]*)"', html).group(1)


async def walk_to_join(app, client, scope_base, headers=None):
    csrf = await claim(app, client)
    for step_id, form in STEPS[:3]:
        await page(client, f"/setup/{step_id}")
        r = await post(client, f"/setup/{step_id}", form, csrf)
        assert r.status_code == 303, step_id
    r = await client.get("/setup/join", scope_base=scope_base, headers=headers or {})
    return csrf, await r.get_data(as_text=True)


async def test_wizard_proposes_how_this_browser_reached_the_box(machine, tmp_path):
    machine(avahi=True)
    async with running(fresh_settings(tmp_path / "d", bind="0.0.0.0:8008")) as (app, client):
        _, html = await walk_to_join(app, client, LAN, {"Host": "192.168.1.5:8008"})
        assert address_field(html) == "http://192.168.1.5:8008"
        assert "Server address" in html


async def test_wizard_at_the_box_itself_proposes_the_local_name_and_refuses_localhost(machine, tmp_path):
    machine(avahi=True)
    async with running(fresh_settings(tmp_path / "d", bind="0.0.0.0:8008")) as (app, client):
        csrf, html = await walk_to_join(app, client, ON_THE_BOX, {"Host": "localhost:8008"})
        assert address_field(html) == "http://hearth.local:8008"
        r = await client.post("/setup/join", scope_base=ON_THE_BOX, headers={"Host": "localhost:8008"},
                              form={"registration": "token", "public_baseurl": "http://localhost:8008",
                                    "csrf_token": csrf})
        assert r.status_code == 400
        assert "works only on this machine" in await r.get_data(as_text=True)


async def test_the_confirmed_address_is_stored_and_handed_out(machine, tmp_path):
    machine(avahi=True)
    async with running(fresh_settings(tmp_path / "d", bind="0.0.0.0:8008")) as (app, client):
        csrf, _ = await walk_to_join(app, client, ON_THE_BOX, {"Host": "localhost:8008"})
        at_box = dict(scope_base=ON_THE_BOX, headers={"Host": "localhost:8008"})
        r = await client.post("/setup/join", form={"registration": "token", "public_baseurl": "chat.home.arpa:8008",
                                                   "csrf_token": csrf}, **at_box)
        assert r.status_code == 303
        for step_id, form in STEPS[4:]:
            r = await client.post(f"/setup/{step_id}", form={**form, "csrf_token": csrf}, **at_box)
            assert r.status_code == 303
        r = await client.get("/setup/summary", **at_box)
        assert "http://chat.home.arpa:8008" in await r.get_data(as_text=True)
        r = await client.post("/setup/summary", form={"csrf_token": csrf}, **at_box)
        html = await r.get_data(as_text=True)
        assert r.status_code == 200 and "Hearth is ready" in html
        assert "localhost" not in html
        token = re.search(r'id="invite-code">([^<]+)<', html).group(1)
        assert f"http://chat.home.arpa:8008/join/{token}" in html
        assert 'value="http://chat.home.arpa:8008"' in html          # the "Server address" box
        hearth = app.config["HEARTH"]
        assert hearth.settings.public_baseurl == "http://chat.home.arpa:8008"
        r = await client.get("/.well-known/matrix/client", **at_box)
        assert (await r.get_json())["m.homeserver"]["base_url"] == "http://chat.home.arpa:8008"
        # An invite made at the box's own screen carries it too.
        r = await client.get(f"/join/{token}", **at_box)
        assert f"http://chat.home.arpa:8008/join/{token}" in await r.get_data(as_text=True)


async def test_admin_pages_correct_the_address(machine, tmp_path):
    from .test_webui_pages import ADMIN_PW, Browser, running as running_server

    machine(avahi=False)
    async with running_server(tmp_path, bind="0.0.0.0:8008") as (app, h, test_app):
        b = Browser(test_app.test_client())
        await b.login("admin", ADMIN_PW)
        _, html = await b.get("/admin/settings")
        assert address_field(html) == "http://192.168.1.5:8008"   # derived until someone says
        form = {"registration": "token", "public_baseurl": "https://chat.example.org", "max_upload_mb": "50",
                "media_quota_mb": "1024", "presence_enabled": "on"}
        r = await b.post("/admin/settings", form)
        assert r.status_code == 303, await r.get_data(as_text=True)
        assert h.settings.base_url() == "https://chat.example.org"
        r = await b.post("/admin/settings", {**form, "public_baseurl": "http://127.0.0.1:8008"})
        assert r.status_code == 400 and "works only on this machine" in await r.get_data(as_text=True)


async def test_well_known_never_hands_loopback_to_a_client_elsewhere(tmp_path):
    # Loopback only, behind a proxy on this machine, and no public URL set: the address is loopback.
    settings = fresh_settings(tmp_path / "d", bind="127.0.0.1:8008", trusted_proxies=["127.0.0.1"])
    async with running(settings) as (app, client):
        here = await client.get("/.well-known/matrix/client", scope_base=ON_THE_BOX)
        assert (await here.get_json())["m.homeserver"]["base_url"] == "http://127.0.0.1:8008"
        proxied = await client.get("/.well-known/matrix/client", scope_base=ON_THE_BOX,
                                   headers={"X-Forwarded-For": "192.168.1.20"})
        assert proxied.status_code == 404 and (await proxied.get_json())["errcode"] == "M_NOT_FOUND"
