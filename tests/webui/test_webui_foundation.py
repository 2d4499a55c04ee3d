"""The web foundation: forms from pydantic models, stored settings and their precedence,
session cookies; and headless set-up of a real server with `hearth create-user --admin`."""
from __future__ import annotations

import enum
from pathlib import Path
from typing import Literal

import httpx
import pytest
from pydantic import BaseModel, Field, SecretStr

from appliance.app import create_app
from appliance.core.protocol.errors import Forbidden, InvalidParam
from appliance.settings import Settings
from appliance.webui.forms import form_fields, parse_form
from tests.conftest import start_server


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class SomeBridgeSettings(BaseModel):
    """Any plugin's settings model renders without a template of its own."""
    network: str = Field("irc.libera.chat", title="Network", description="Where to connect")
    port: int = Field(6697, ge=1, le=65535)
    tls: bool = True
    password: SecretStr | None = None
    nick_style: Literal["plain", "suffix"] = "plain"
    colour: Colour = Colour.RED
    channels: list[str] = Field(default_factory=list)
    region: Literal["a", "b", "c", "d", "e", "f"] = "a"
    note: str | None = None


def test_any_settings_model_renders_as_a_form():
    fields = {f.name: f for f in form_fields(SomeBridgeSettings, prefix="bridge.irc.")}
    assert list(fields) == [f"bridge.irc.{n}" for n in SomeBridgeSettings.model_fields]
    f = fields["bridge.irc.network"]
    assert (f.kind, f.label, f.help, f.value, f.id) == ("text", "Network", "Where to connect", "irc.libera.chat",
                                                        "bridge-irc-network")
    assert fields["bridge.irc.port"].kind == "number" and fields["bridge.irc.port"].attrs["max"] == 65535
    assert fields["bridge.irc.tls"].kind == "checkbox" and fields["bridge.irc.tls"].value is True
    assert fields["bridge.irc.password"].kind == "password" and not fields["bridge.irc.password"].required
    assert [c.value for c in fields["bridge.irc.nick_style"].choices] == ["plain", "suffix"]
    assert fields["bridge.irc.colour"].kind == "radio" and fields["bridge.irc.colour"].value == "red"
    assert fields["bridge.irc.channels"].kind == "textarea"
    assert fields["bridge.irc.region"].kind == "select"


def test_a_submitted_form_validates_into_the_model():
    form = {"p.network": " irc.oftc.net ", "p.port": "6667", "p.password": "s3cret", "p.nick_style": "suffix",
            "p.colour": "green", "p.channels": "#a\n\n#b\n", "p.region": "c", "p.note": ""}
    model, errors = parse_form(SomeBridgeSettings, form, prefix="p.")
    assert errors == {}
    assert model.network == "irc.oftc.net" and model.port == 6667 and model.tls is False  # unchecked box
    assert model.password.get_secret_value() == "s3cret" and model.colour is Colour.GREEN
    assert model.channels == ["#a", "#b"] and model.note is None
    model, errors = parse_form(SomeBridgeSettings, {"p.port": "99999", "p.nick_style": "x"}, prefix="p.")
    assert model is None and set(errors) == {"port", "nick_style"}
    rendered = {f.name: f for f in form_fields(SomeBridgeSettings, {"port": "99999"}, errors, prefix="p.")}
    assert rendered["p.port"].error and rendered["p.port"].value == "99999"


async def test_stored_settings_between_defaults_and_the_environment(tmp_path):
    data = tmp_path / "d"
    explicit = Settings(data_dir=data, bind="127.0.0.1:0", registration="open")
    app = create_app(explicit)
    async with app.test_app():
        service = app.config["HEARTH"].web.server_settings
        overridden = await service.store_values({"registration": "closed", "presence_enabled": False,
                                                 "bridge_irc": {"enabled": True}})
        assert overridden == ["registration"]  # the operator's choice wins...
        assert explicit.registration == "open" and explicit.presence_enabled is False  # ...the rest applies
        with pytest.raises(InvalidParam):
            await service.store_values({"registration": "sometimes"})
        with pytest.raises(InvalidParam):
            await service.store_values({"Bad.Key": 1})
        with pytest.raises(Forbidden):
            await service.store_values({"server_name": "other.example"})
        assert (await service.stored())["bridge_irc"] == {"enabled": True}
    fresh = Settings(data_dir=data, bind="127.0.0.1:0")  # a restart without the variable
    app = create_app(fresh)
    async with app.test_app():
        assert fresh.registration == "closed" and fresh.presence_enabled is False
        assert "registration" not in fresh.explicit_fields


async def test_session_cookie_is_secure_over_tls(tmp_path):
    app = create_app(Settings(data_dir=tmp_path / "d", bind="127.0.0.1:0"))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        r = await client.get("/setup", scheme="https")
        cookie = r.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        value = cookie.split(";")[0].split("=", 1)[1]
        session_id, mac = value.rsplit(".", 1)
        assert len(session_id) >= 40 and len(mac) == 64
        # The database keeps only a hash of the ID; a forged signature is no session.
        rows = await app.config["HEARTH"].core.db.fetchall("SELECT session_hash FROM web_sessions")
        assert session_id not in {r[0] for r in rows} and len(rows) == 1
        forged = f"hearth_session={session_id}.{'0' * 64}"
        r = await client.get("/setup", headers={"Cookie": forged})
        assert "Set-Cookie" in r.headers  # not recognised: a new session is made


def test_headless_server_with_an_admin_from_the_command_line(tmp_path: Path):
    data = tmp_path / "data"
    srv = start_server(data, HEARTH_SERVER_NAME="home.test", HEARTH_REGISTRATION="token")
    try:
        assert httpx.get(srv.base_url + "/setup").status_code == 200  # offered until an admin exists
        srv.hearth_cli("create-user", "op", "--password", "a long operator password", "--admin")
        assert httpx.get(srv.base_url + "/setup").status_code == 404
        assert httpx.get(srv.base_url + "/", follow_redirects=False).headers.get("Location") != "/setup"
        r = httpx.post(srv.base_url + "/_matrix/client/v3/register", json={"username": "a", "password": "x" * 12})
        assert r.status_code == 401 and r.json()["flows"][0]["stages"][0] == "m.login.registration_token"
    finally:
        srv.stop()
    fresh = start_server(tmp_path / "fresh", HEARTH_SERVER_NAME=None, HEARTH_REGISTRATION=None)
    try:
        r = httpx.post(fresh.base_url + "/_matrix/client/v3/register", json={"username": "a", "password": "x" * 12})
        assert r.status_code == 403 and r.json() == {"errcode": "M_FORBIDDEN", "error": "This server is not set up yet"}
    finally:
        fresh.stop()
