"""Shared-secret registration (`/_synapse/admin/v1/register`, Synapse's admin API): off unless
turned on, the secret made at the first start, single-use expiring nonces, the HMAC-SHA1 MAC."""
from __future__ import annotations

import hashlib
import hmac
import stat

import pytest

from appliance.core.services import shared_secret_registration as ssr

URL = "/_synapse/admin/v1/register"
PW = "pw-correct-horse"


def mac(secret: str, nonce: str, user: str, password: str, admin: bool, user_type: str | None = None) -> str:
    """Written out from Synapse's documentation, independently of the server's code."""
    m = hmac.new(secret.encode("utf8"), digestmod=hashlib.sha1)
    m.update(nonce.encode("utf8"))
    m.update(b"\x00")
    m.update(user.encode("utf8"))
    m.update(b"\x00")
    m.update(password.encode("utf8"))
    m.update(b"\x00")
    m.update(b"admin" if admin else b"notadmin")
    if user_type:
        m.update(b"\x00")
        m.update(user_type.encode("utf8"))
    return m.hexdigest()


def secret_of(hs) -> str:
    path = hs.hearth.settings.registration_secret_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return path.read_text().strip()


@pytest.fixture
def enabled(hs):
    hs.hearth.settings.registration_shared_secret_enabled = True
    return hs


async def nonce(hs) -> str:
    r = await hs.client.get(URL)
    body = await r.get_json()
    assert r.status_code == 200, body
    return body["nonce"]


async def post(hs, body):
    r = await hs.client.post(URL, json=body)
    return r.status_code, await r.get_json()


async def test_off_by_default_but_the_secret_exists_from_the_first_start(hs):
    assert hs.hearth.settings.registration_shared_secret_enabled is False
    assert len(secret_of(hs)) >= 32
    r = await hs.client.get(URL)
    assert r.status_code == 400 and "not enabled" in (await r.get_json())["error"]
    status, body = await post(hs, {"nonce": "x", "username": "a", "password": PW, "mac": "00"})
    assert status == 400 and "not enabled" in body["error"]


async def test_register_an_admin_and_a_user(enabled):
    hs = enabled
    secret = secret_of(hs)
    n = await nonce(hs)
    status, body = await post(hs, {"nonce": n, "username": "root", "password": PW, "admin": True,
                                   "displayname": "The Root", "mac": mac(secret, n, "root", PW, True)})
    assert status == 200, body
    assert (body["user_id"], body["home_server"]) == ("@root:hearth.test", "hearth.test")
    assert body["device_id"]
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    r = await hs.client.get("/_matrix/client/v3/account/whoami", headers=headers)
    assert (await r.get_json())["user_id"] == "@root:hearth.test"
    r = await hs.client.get("/_synapse/admin/v2/users/@root:hearth.test", headers=headers)
    assert (await r.get_json())["admin"] is True
    r = await hs.client.get("/_matrix/client/v3/profile/@root:hearth.test/displayname")
    assert (await r.get_json())["displayname"] == "The Root"
    n = await nonce(hs)
    status, body = await post(hs, {"nonce": n, "username": "kid", "password": PW, "mac": mac(secret, n, "kid", PW, False)})
    assert status == 200, body
    r = await hs.client.get("/_synapse/admin/v2/users/@kid:hearth.test", headers=headers)
    assert (await r.get_json())["admin"] is False
    # The password works for a normal login.
    login = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "kid"}, "password": PW}
    r = await hs.client.post("/_matrix/client/v3/login", json=login)
    assert r.status_code == 200


async def test_wrong_mac_unknown_or_reused_nonce(enabled):
    hs = enabled
    secret = secret_of(hs)
    n = await nonce(hs)
    # MAC made for notadmin, request says admin: refused, and the nonce is spent.
    status, body = await post(hs, {"nonce": n, "username": "eve", "password": PW, "admin": True,
                                   "mac": mac(secret, n, "eve", PW, False)})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = await post(hs, {"nonce": n, "username": "eve", "password": PW, "admin": True,
                                   "mac": mac(secret, n, "eve", PW, True)})
    assert status == 400 and "nonce" in body["error"]
    status, body = await post(hs, {"nonce": "made-up", "username": "eve", "password": PW,
                                   "mac": mac(secret, "made-up", "eve", PW, False)})
    assert status == 400 and "nonce" in body["error"]
    n = await nonce(hs)
    status, body = await post(hs, {"nonce": n, "username": "eve", "password": PW,
                                   "mac": mac("not-the-secret", n, "eve", PW, False)})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    n = await nonce(hs)
    good = {"nonce": n, "username": "eve", "password": PW, "mac": mac(secret, n, "eve", PW, False)}
    assert (await post(hs, good))[0] == 200
    status, body = await post(hs, good)  # a replay of the same request
    assert status == 400 and "nonce" in body["error"]


async def test_nonces_expire(enabled, monkeypatch):
    hs = enabled
    now = [1000.0]
    monkeypatch.setattr(hs.hearth.accounts.shared_secret, "_clock", lambda: now[0])
    secret = secret_of(hs)
    n = await nonce(hs)
    now[0] += ssr.NONCE_TTL_S + 1
    status, body = await post(hs, {"nonce": n, "username": "late", "password": PW, "mac": mac(secret, n, "late", PW, False)})
    assert status == 400 and "nonce" in body["error"]


async def test_bad_bodies_names_and_taken_names(enabled):
    hs = enabled
    secret = secret_of(hs)
    status, body = await post(hs, {"nonce": "n", "username": 5, "password": PW, "mac": "00"})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    n = await nonce(hs)
    status, body = await post(hs, {"nonce": n, "username": "Bad Name!", "password": PW,
                                   "mac": mac(secret, n, "Bad Name!", PW, False)})
    assert (status, body["errcode"]) == (400, "M_INVALID_USERNAME")
    await hs.user("taken")
    n = await nonce(hs)
    status, body = await post(hs, {"nonce": n, "username": "taken", "password": PW, "mac": mac(secret, n, "taken", PW, False)})
    assert (status, body["errcode"]) == (400, "M_USER_IN_USE")
    n = await nonce(hs)
    status, body = await post(hs, {"nonce": n, "username": "bot", "password": PW, "user_type": "bot",
                                   "mac": mac(secret, n, "bot", PW, False, "bot")})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")


async def test_the_secret_survives_a_restart(tmp_path):
    path = tmp_path / "registration_shared_secret"
    first = ssr.load_or_create_secret(path)
    assert ssr.load_or_create_secret(path) == first
    assert ssr.load_or_create_secret(tmp_path / "other") != first


async def test_cli_shows_the_servers_secret_and_whether_it_is_on(tmp_path):
    import asyncio
    import os
    import sys

    from appliance.app import create_app
    from tests.conftest import test_settings

    data = tmp_path / "data"
    app = create_app(test_settings(data))
    async with app.test_app():
        secret = app.config["HEARTH"].settings.registration_secret_path.read_text().strip()

    async def show(**env_extra: str) -> tuple[int, str, str]:
        env = {**os.environ, "HEARTH_DATA_DIR": str(data), "HEARTH_SERVER_NAME": "hearth.test", **env_extra}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "appliance", "registration-secret", "show", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode, out.decode(), err.decode()

    rc, out, err = await show()
    assert (rc, out.strip()) == (0, secret), err
    assert "is off" in err
    rc, out, err = await show(HEARTH_REGISTRATION_SHARED_SECRET_ENABLED="true")
    assert (rc, out.strip()) == (0, secret) and "is on" in err
