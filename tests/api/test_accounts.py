"""Accounts: registration with user-interactive auth, login, refresh, logout, password, deactivation."""
from __future__ import annotations

import pytest

V3 = "/_matrix/client/v3"


async def register(client, username: str, password: str = "pw-123456", **extra) -> dict:
    """Register through the dummy flow: 401 with a session first, then completion."""
    r = await client.post(f"{V3}/register", json={"username": username, "password": password, **extra})
    assert r.status_code == 401, await r.get_json()
    session = (await r.get_json())["session"]
    r = await client.post(f"{V3}/register", json={"username": username, "password": password, **extra,
                                                   "auth": {"type": "m.login.dummy", "session": session}})
    assert r.status_code == 200, await r.get_json()
    return await r.get_json()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def login(client, user: str, password: str = "pw-123456", **extra) -> dict:
    r = await client.post(f"{V3}/login", json={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
        "password": password, **extra})
    assert r.status_code == 200, await r.get_json()
    return await r.get_json()


async def errcode(r) -> str:
    return (await r.get_json()).get("errcode")


# -- registration -------------------------------------------------------------------------

async def test_register_dummy_flow(client):
    r = await client.post(f"{V3}/register", json={"username": "alice", "password": "pw-123456"})
    assert r.status_code == 401
    body = await r.get_json()
    assert body["flows"] == [{"stages": ["m.login.dummy"]}]
    assert isinstance(body["session"], str) and "params" in body
    assert "errcode" not in body
    r = await client.post(f"{V3}/register", json={"username": "alice", "password": "pw-123456",
                                                   "initial_device_display_name": "Phone",
                                                   "auth": {"type": "m.login.dummy", "session": body["session"]}})
    assert r.status_code == 200
    done = await r.get_json()
    assert done["user_id"] == "@alice:hearth.test"
    assert done["access_token"] and done["device_id"]
    assert "refresh_token" not in done
    r = await client.get(f"{V3}/account/whoami", headers=bearer(done["access_token"]))
    assert await r.get_json() == {"user_id": "@alice:hearth.test", "device_id": done["device_id"],
                                  "is_guest": False}
    r = await client.get(f"{V3}/devices/{done['device_id']}", headers=bearer(done["access_token"]))
    assert (await r.get_json())["display_name"] == "Phone"
    # The session is used up: retrying it answers the same account (signed in again), whatever else is sent.
    r = await client.post(f"{V3}/register", json={"username": "alice2", "password": "x",
                                                   "auth": {"type": "m.login.dummy", "session": body["session"]}})
    assert r.status_code == 200 and (await r.get_json())["user_id"] == "@alice:hearth.test"
    r = await client.get(f"{V3}/register/available?username=alice2")
    assert r.status_code == 200


async def test_register_without_session_completes_in_one_request(client):
    r = await client.post(f"{V3}/register", json={"username": "bob", "password": "pw-123456",
                                                   "auth": {"type": "m.login.dummy"}})
    assert r.status_code == 200
    assert (await r.get_json())["user_id"] == "@bob:hearth.test"


async def test_register_name_checks_come_before_uia(client):
    await register(client, "carol")
    r = await client.post(f"{V3}/register", json={"username": "carol", "password": "pw"})
    assert r.status_code == 400 and await errcode(r) == "M_USER_IN_USE"
    r = await client.post(f"{V3}/register", json={"username": "Carol", "password": "pw"})
    assert r.status_code == 400 and await errcode(r) == "M_USER_IN_USE"  # lowercased, then taken
    for bad in ("car ol", "@carol:hearth.test", "x" * 300, ""):
        r = await client.post(f"{V3}/register", json={"username": bad, "password": "pw"})
        assert r.status_code == 400 and await errcode(r) == "M_INVALID_USERNAME", bad


async def test_register_later_stages_send_only_auth(client):
    """The first request's parameters stay with the session (registration.yaml, UIA "Fallback"
    clients and Synapse's behaviour): the completing request may carry `auth` alone."""
    r = await client.post(f"{V3}/register", json={"username": "Kim", "password": "pw-123456",
                                                   "device_id": "KIMPHONE", "initial_device_display_name": "Kim's"})
    assert r.status_code == 401
    session = (await r.get_json())["session"]
    auth = {"auth": {"type": "m.login.dummy", "session": session}}
    r = await client.post(f"{V3}/register", json=auth)
    done = await r.get_json()
    assert r.status_code == 200, done
    assert done["user_id"] == "@kim:hearth.test" and done["device_id"] == "KIMPHONE"
    r = await client.get(f"{V3}/devices/KIMPHONE", headers=bearer(done["access_token"]))
    assert (await r.get_json())["display_name"] == "Kim's"
    await login(client, "kim")  # the password of the first request
    # Retrying the completed request gives the same account, not M_USER_IN_USE or an unknown session.
    r = await client.post(f"{V3}/register", json=auth)
    again = await r.get_json()
    assert r.status_code == 200 and again["user_id"] == "@kim:hearth.test", again
    # inhibit_login given first holds for the stage that completes the session.
    r = await client.post(f"{V3}/register", json={"username": "lou", "password": "pw-123456", "inhibit_login": True})
    r = await client.post(f"{V3}/register", json={"auth": {"type": "m.login.dummy",
                                                           "session": (await r.get_json())["session"]}})
    body = await r.get_json()
    assert r.status_code == 200 and body["user_id"] == "@lou:hearth.test" and "access_token" not in body


async def test_register_lowercases_the_localpart(client):
    r = await client.get(f"{V3}/register/available?username=MixedCase")
    assert r.status_code == 200
    done = await register(client, "MixedCase")
    assert done["user_id"] == "@mixedcase:hearth.test"
    r = await client.get(f"{V3}/register/available?username=MIXEDCASE")
    assert r.status_code == 400 and await errcode(r) == "M_USER_IN_USE"


async def test_register_requires_password(client):
    r = await client.post(f"{V3}/register", json={"username": "dave", "auth": {"type": "m.login.dummy"}})
    assert r.status_code == 400 and await errcode(r) == "M_MISSING_PARAM"
    r = await client.post(f"{V3}/register", json={"username": "dave", "password": 5})
    assert r.status_code == 400 and await errcode(r) == "M_BAD_JSON"


async def test_register_without_username_generates_one(client):
    r = await client.post(f"{V3}/register", json={"password": "pw-123456", "auth": {"type": "m.login.dummy"}})
    assert r.status_code == 200
    user_id = (await r.get_json())["user_id"]
    assert user_id.startswith("@") and user_id.endswith(":hearth.test")


async def test_register_inhibit_login_device_id_and_refresh(client):
    r = await client.post(f"{V3}/register", json={"username": "erin", "password": "pw-123456",
                                                   "inhibit_login": True, "auth": {"type": "m.login.dummy"}})
    body = await r.get_json()
    assert r.status_code == 200 and body["user_id"] == "@erin:hearth.test"
    assert "access_token" not in body and "device_id" not in body
    body = await register(client, "frank", device_id="MYDEVICE", refresh_token=True)
    assert body["device_id"] == "MYDEVICE"
    assert body["refresh_token"] and body["expires_in_ms"] > 0


async def test_register_guest_is_refused(client):
    r = await client.post(f"{V3}/register?kind=guest", json={})
    assert r.status_code == 403 and await errcode(r) == "M_GUEST_ACCESS_FORBIDDEN"
    r = await client.post(f"{V3}/register?kind=robot", json={})
    assert r.status_code == 400 and await errcode(r) == "M_INVALID_PARAM"


async def test_register_unknown_stage_and_session(client):
    r = await client.post(f"{V3}/register", json={"username": "gus", "password": "pw",
                                                   "auth": {"type": "m.login.registration_token", "token": "x"}})
    assert r.status_code == 400 and await errcode(r) == "M_UNRECOGNIZED"
    r = await client.post(f"{V3}/register", json={"username": "gus", "password": "pw",
                                                   "auth": {"type": "m.login.dummy", "session": "nope"}})
    assert r.status_code == 400
    r = await client.post(f"{V3}/register", json={"username": "gus", "password": "pw", "auth": "dummy"})
    assert r.status_code == 400 and await errcode(r) == "M_BAD_JSON"


async def test_username_available(client):
    r = await client.get(f"{V3}/register/available?username=henry")
    assert r.status_code == 200 and await r.get_json() == {"available": True}
    await register(client, "henry")
    r = await client.get(f"{V3}/register/available?username=henry")
    assert r.status_code == 400 and await errcode(r) == "M_USER_IN_USE"
    r = await client.get(f"{V3}/register/available?username=HENRY!")
    assert r.status_code == 400 and await errcode(r) == "M_INVALID_USERNAME"
    r = await client.get(f"{V3}/register/available")
    assert r.status_code == 400 and await errcode(r) == "M_INVALID_PARAM"


@pytest.fixture
async def closed_client(settings):
    from appliance.app import create_app

    app = create_app(settings.model_copy(update={"registration": "closed"}))
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def test_registration_closed(closed_client):
    r = await closed_client.post(f"{V3}/register", json={"username": "ivy", "password": "pw"})
    assert r.status_code == 403 and await errcode(r) == "M_FORBIDDEN"
    r = await closed_client.get("/_matrix/client/v1/register/m.login.registration_token/validity?token=abc")
    assert r.status_code == 403 and await errcode(r) == "M_FORBIDDEN"


# -- registration tokens ------------------------------------------------------------------

@pytest.fixture
async def token_app(settings):
    from appliance.app import create_app

    app = create_app(settings.model_copy(update={"registration": "token"}))
    async with app.test_app() as test_app:
        yield test_app


async def test_registration_token_flow_and_use_counting(token_app):
    client = token_app.test_client()
    service = token_app.app.config["HEARTH"].accounts.registration
    token = await service.create_registration_token(uses_allowed=1)
    validity = "/_matrix/client/v1/register/m.login.registration_token/validity"
    assert await (await client.get(f"{validity}?token={token}")).get_json() == {"valid": True}
    assert await (await client.get(f"{validity}?token=unknown")).get_json() == {"valid": False}

    r = await client.post(f"{V3}/register", json={"username": "jack", "password": "pw-123456"})
    first = await r.get_json()
    assert r.status_code == 401
    assert first["flows"] == [{"stages": ["m.login.registration_token", "m.login.dummy"]}]
    session = first["session"]
    # A wrong token: 401 with the error, the stage not completed.
    r = await client.post(f"{V3}/register", json={"username": "jack", "password": "pw-123456", "auth": {
        "type": "m.login.registration_token", "token": "wrong", "session": session}})
    body = await r.get_json()
    assert r.status_code == 401 and body["errcode"] == "M_FORBIDDEN"
    assert body["session"] == session and "m.login.registration_token" not in body.get("completed", [])
    # Dummy alone does not complete the flow.
    r = await client.post(f"{V3}/register", json={"username": "jack", "password": "pw-123456", "auth": {
        "type": "m.login.dummy", "session": session}})
    assert r.status_code == 401 and (await r.get_json())["completed"] == ["m.login.dummy"]
    # The right token: pending while another session would need it.
    other = await (await client.post(f"{V3}/register", json={"username": "jill", "password": "pw-123456"})).get_json()
    r = await client.post(f"{V3}/register", json={"username": "jill", "auth": {
        "type": "m.login.registration_token", "token": token, "session": other["session"]}})
    assert r.status_code == 401 and (await r.get_json())["completed"] == ["m.login.registration_token"]
    assert await (await client.get(f"{validity}?token={token}")).get_json() == {"valid": False}
    stored = await service.uia.store.get_registration_token(token)
    assert (stored.pending, stored.completed) == (1, 0)
    r = await client.post(f"{V3}/register", json={"username": "jack", "auth": {
        "type": "m.login.registration_token", "token": token, "session": session}})
    assert r.status_code == 401 and await errcode(r) == "M_FORBIDDEN"  # jill's session holds the only use
    # jill completes with the password of her first request: the token is used.
    r = await client.post(f"{V3}/register", json={"auth": {"type": "m.login.dummy", "session": other["session"]}})
    assert r.status_code == 200 and (await r.get_json())["user_id"] == "@jill:hearth.test"
    stored = await service.uia.store.get_registration_token(token)
    assert (stored.pending, stored.completed) == (0, 1)
    # Used up: another registration with it fails the stage.
    r = await client.post(f"{V3}/register", json={"username": "kate", "password": "pw-123456", "auth": {
        "type": "m.login.registration_token", "token": token}})
    assert r.status_code == 401 and await errcode(r) == "M_FORBIDDEN"


async def test_expired_and_abandoned_tokens(token_app):
    import time

    client = token_app.test_client()
    hearth = token_app.app.config["HEARTH"]
    service = hearth.accounts.registration
    token = await service.create_registration_token("short-lived", uses_allowed=None,
                                                    expiry_time=int(time.time() * 1000) + 300)
    unlimited = await service.create_registration_token()
    assert len(unlimited) == 16
    r = await client.post(f"{V3}/register", json={"username": "leo", "auth": {
        "type": "m.login.registration_token", "token": unlimited}})
    assert r.status_code == 401  # the dummy stage is left; the session holds the token as pending
    assert (await service.uia.store.get_registration_token(unlimited)).pending == 1
    await service.uia.store.expire_sessions(int(time.time() * 1000) + 1)
    assert (await service.uia.store.get_registration_token(unlimited)).pending == 0
    time.sleep(0.35)
    r = await client.post(f"{V3}/register", json={"username": "leo", "password": "pw-123456", "auth": {
        "type": "m.login.registration_token", "token": token}})
    assert r.status_code == 401 and await errcode(r) == "M_FORBIDDEN"
    with pytest.raises(Exception):
        await service.create_registration_token("bad token!")


# -- login, refresh, logout ---------------------------------------------------------------

async def test_login_flows_and_password_login(client):
    r = await client.get(f"{V3}/login")
    assert await r.get_json() == {"flows": [{"type": "m.login.password"}, {"type": "m.login.application_service"}]}
    await register(client, "mia")
    by_localpart = await login(client, "mia")
    assert by_localpart["user_id"] == "@mia:hearth.test" and by_localpart["access_token"]
    assert by_localpart["well_known"]["m.homeserver"]["base_url"]
    by_user_id = await login(client, "@mia:hearth.test")
    assert by_user_id["device_id"] != by_localpart["device_id"]
    r = await client.post(f"{V3}/login", json={"type": "m.login.password", "user": "mia", "password": "pw-123456"})
    assert r.status_code == 200
    assert (await login(client, "MIA"))["user_id"] == "@mia:hearth.test"


async def test_login_errors(client):
    await register(client, "ned")
    cases = [
        ({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "ned"}, "password": "bad"},
         403, "M_FORBIDDEN"),
        ({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "nobody"}, "password": "x"},
         403, "M_FORBIDDEN"),
        ({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "@ned:elsewhere"},
          "password": "pw-123456"}, 403, "M_FORBIDDEN"),
        ({"type": "m.login.password", "identifier": {"type": "m.id.thirdparty", "medium": "email",
                                                     "address": "a@b.c"}, "password": "x"}, 403, "M_FORBIDDEN"),
        ({"type": "m.login.token", "token": "abc"}, 400, "M_UNKNOWN"),
        ({"type": "m.login.password", "password": "x"}, 400, "M_MISSING_PARAM"),
        ({"type": "m.login.password", "user": "ned"}, 400, "M_MISSING_PARAM"),
        ({"type": "m.login.password", "user": "ned", "password": "pw-123456", "device_id": 7}, 400, "M_BAD_JSON"),
    ]
    for body, status, code in cases:
        r = await client.post(f"{V3}/login", json=body)
        assert (r.status_code, await errcode(r)) == (status, code), body
    r = await client.post(f"{V3}/login", data="not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and await errcode(r) == "M_NOT_JSON"


async def test_login_reusing_device_id_signs_old_token_out(client):
    await register(client, "olga")
    first = await login(client, "olga", device_id="PHONE", initial_device_display_name="Olga's phone")
    second = await login(client, "olga", device_id="PHONE", initial_device_display_name="ignored")
    assert second["device_id"] == "PHONE"
    r = await client.get(f"{V3}/account/whoami", headers=bearer(first["access_token"]))
    assert r.status_code == 401 and await errcode(r) == "M_UNKNOWN_TOKEN"
    r = await client.get(f"{V3}/devices/PHONE", headers=bearer(second["access_token"]))
    assert (await r.get_json())["display_name"] == "Olga's phone"


async def test_login_rate_limit(settings):
    from appliance.app import create_app

    app = create_app(settings.model_copy(update={"login_rate_per_second": 0.01, "login_rate_burst": 2}))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        body = {"type": "m.login.password", "user": "x", "password": "y"}
        for _ in range(2):
            assert (await client.post(f"{V3}/login", json=body)).status_code == 403
        r = await client.post(f"{V3}/login", json=body)
        assert r.status_code == 429
        limited = await r.get_json()
        assert limited["errcode"] == "M_LIMIT_EXCEEDED" and limited["retry_after_ms"] > 0


async def test_refresh_token_rotation(client):
    await register(client, "pam")
    first = await login(client, "pam", refresh_token=True)
    assert first["refresh_token"] and first["expires_in_ms"] > 0
    r = await client.post(f"{V3}/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    new = await r.get_json()
    assert new["access_token"] != first["access_token"] and new["refresh_token"] != first["refresh_token"]
    r = await client.get(f"{V3}/account/whoami", headers=bearer(first["access_token"]))
    assert r.status_code == 401 and await errcode(r) == "M_UNKNOWN_TOKEN"
    r = await client.get(f"{V3}/account/whoami", headers=bearer(new["access_token"]))
    assert (await r.get_json())["device_id"] == first["device_id"]
    r = await client.post(f"{V3}/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401 and await errcode(r) == "M_UNKNOWN_TOKEN"
    r = await client.post(f"{V3}/refresh", json={})
    assert r.status_code == 400 and await errcode(r) == "M_BAD_JSON"


async def test_refresh_retry_after_lost_response(client):
    """The old refresh token stays valid until the new pair is used (a lost response is retried)."""
    await register(client, "rita")
    first = await login(client, "rita", refresh_token=True)
    lost = await (await client.post(f"{V3}/refresh", json={"refresh_token": first["refresh_token"]})).get_json()
    r = await client.post(f"{V3}/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    retried = await r.get_json()
    # The pair whose response was lost was replaced by the retry.
    r = await client.get(f"{V3}/account/whoami", headers=bearer(lost["access_token"]))
    assert r.status_code == 401 and await errcode(r) == "M_UNKNOWN_TOKEN"
    r = await client.post(f"{V3}/refresh", json={"refresh_token": lost["refresh_token"]})
    assert r.status_code == 401
    # Using the new refresh token revokes the old one.
    r = await client.post(f"{V3}/refresh", json={"refresh_token": retried["refresh_token"]})
    assert r.status_code == 200
    r = await client.post(f"{V3}/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401 and await errcode(r) == "M_UNKNOWN_TOKEN"


async def test_logout_and_logout_all(client):
    reg = await register(client, "quinn")
    other = await login(client, "quinn")
    third = await login(client, "quinn")
    r = await client.post(f"{V3}/logout", headers=bearer(reg["access_token"]))
    assert r.status_code == 200 and await r.get_json() == {}
    r = await client.get(f"{V3}/account/whoami", headers=bearer(reg["access_token"]))
    assert r.status_code == 401 and await errcode(r) == "M_UNKNOWN_TOKEN"
    devices = (await (await client.get(f"{V3}/devices", headers=bearer(other["access_token"]))).get_json())["devices"]
    assert reg["device_id"] not in {d["device_id"] for d in devices}
    r = await client.post(f"{V3}/logout/all", headers=bearer(other["access_token"]))
    assert r.status_code == 200
    for token in (other["access_token"], third["access_token"]):
        r = await client.get(f"{V3}/account/whoami", headers=bearer(token))
        assert r.status_code == 401 and await errcode(r) == "M_UNKNOWN_TOKEN"
    r = await client.post(f"{V3}/logout")
    assert r.status_code == 401 and await errcode(r) == "M_MISSING_TOKEN"


# -- password and deactivation ------------------------------------------------------------

def password_auth(user: str, password: str, session: str | None = None) -> dict:
    auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password}
    if session:
        auth["session"] = session
    return auth


async def test_change_password_uia(client):
    reg = await register(client, "rita")
    other = await login(client, "rita")
    h = bearer(reg["access_token"])
    r = await client.post(f"{V3}/account/password", json={"new_password": "new-pw-1"}, headers=h)
    assert r.status_code == 401
    body = await r.get_json()
    assert body["flows"] == [{"stages": ["m.login.password"]}]
    r = await client.post(f"{V3}/account/password", headers=h, json={
        "new_password": "new-pw-1", "auth": password_auth("rita", "wrong", body["session"])})
    failed = await r.get_json()
    assert r.status_code == 401 and failed["errcode"] == "M_FORBIDDEN" and failed["session"] == body["session"]
    r = await client.post(f"{V3}/account/password", headers=h, json={
        "new_password": "new-pw-1", "auth": password_auth("rita", "pw-123456", body["session"])})
    assert r.status_code == 200 and await r.get_json() == {}
    # The requesting device stays; the others are signed out (logout_devices defaults to true).
    assert (await client.get(f"{V3}/account/whoami", headers=h)).status_code == 200
    r = await client.get(f"{V3}/account/whoami", headers=bearer(other["access_token"]))
    assert r.status_code == 401
    r = await client.post(f"{V3}/login", json={"type": "m.login.password", "user": "rita", "password": "pw-123456"})
    assert r.status_code == 403
    await login(client, "rita", "new-pw-1")


async def test_change_password_keep_devices_and_other_user(client):
    reg = await register(client, "sam")
    await register(client, "tina")
    other = await login(client, "sam")
    h = bearer(reg["access_token"])
    # Another user's password does not authenticate sam: a refusal (403), not a stage to retry.
    r = await client.post(f"{V3}/account/password", headers=h, json={
        "new_password": "x-1", "auth": password_auth("tina", "pw-123456")})
    assert r.status_code == 403 and await errcode(r) == "M_FORBIDDEN"
    # A wrong password is a failed stage (401).
    r = await client.post(f"{V3}/account/password", headers=h, json={
        "new_password": "x-1", "auth": password_auth("sam", "wrong")})
    assert r.status_code == 401 and await errcode(r) == "M_FORBIDDEN"
    r = await client.post(f"{V3}/account/password", headers=h, json={
        "new_password": "x-1", "logout_devices": False, "auth": password_auth("sam", "pw-123456")})
    assert r.status_code == 200
    assert (await client.get(f"{V3}/account/whoami", headers=bearer(other["access_token"]))).status_code == 200
    r = await client.post(f"{V3}/account/password", headers=h, json={"auth": password_auth("sam", "x-1")})
    assert r.status_code == 400 and await errcode(r) == "M_BAD_JSON"


async def test_change_password_without_access_token(client):
    await register(client, "uma")
    r = await client.post(f"{V3}/account/password", json={
        "new_password": "fresh-1", "auth": password_auth("@uma:hearth.test", "pw-123456")})
    assert r.status_code == 200
    await login(client, "uma", "fresh-1")


async def test_session_bound_to_its_request(client):
    reg = await register(client, "vera")
    h = bearer(reg["access_token"])
    r = await client.post(f"{V3}/account/password", json={"new_password": "a-1"}, headers=h)
    session = (await r.get_json())["session"]
    r = await client.post(f"{V3}/account/deactivate", headers=h, json={
        "auth": password_auth("vera", "pw-123456", session)})
    assert r.status_code == 403 and await errcode(r) == "M_FORBIDDEN"
    assert (await client.get(f"{V3}/account/whoami", headers=h)).status_code == 200


async def test_deactivate(client):
    reg = await register(client, "wendy")
    h = bearer(reg["access_token"])
    r = await client.post(f"{V3}/account/deactivate", json={}, headers=h)
    assert r.status_code == 401
    session = (await r.get_json())["session"]
    r = await client.post(f"{V3}/account/deactivate", headers=h, json={
        "auth": password_auth("wendy", "pw-123456", session)})
    assert r.status_code == 200 and await r.get_json() == {"id_server_unbind_result": "success"}
    r = await client.get(f"{V3}/account/whoami", headers=h)
    assert r.status_code == 401 and await errcode(r) == "M_UNKNOWN_TOKEN"
    r = await client.post(f"{V3}/login", json={"type": "m.login.password", "user": "wendy", "password": "pw-123456"})
    assert r.status_code == 403 and await errcode(r) == "M_USER_DEACTIVATED"
    r = await client.post(f"{V3}/register", json={"username": "wendy", "password": "pw"})
    assert r.status_code == 400 and await errcode(r) == "M_USER_IN_USE"
    r = await client.get(f"{V3}/profile/@wendy:hearth.test")
    assert r.status_code == 404 and await errcode(r) == "M_NOT_FOUND"


# -- operator commands --------------------------------------------------------------------

async def test_service_create_user_and_reset_password(token_app):
    client = token_app.test_client()
    service = token_app.app.config["HEARTH"].accounts.registration
    assert await service.create_user("xena", "pw-1", admin=True) == "@xena:hearth.test"
    user = await token_app.app.config["HEARTH"].core.account_store.get_user("@xena:hearth.test")
    assert user.admin and user.password_hash and "pw-1" not in user.password_hash
    assert await service.create_user("@yuri:hearth.test", "pw-2") == "@yuri:hearth.test"
    for name, code in (("xena", "M_USER_IN_USE"), ("Bad Name", "M_INVALID_USERNAME"),
                       ("@z:elsewhere", "M_INVALID_USERNAME")):
        with pytest.raises(Exception) as exc:
            await service.create_user(name, "pw")
        assert exc.value.errcode == code
    session = await login(client, "xena", "pw-1")
    await token_app.app.config["HEARTH"].accounts.login.reset_password("xena", "pw-new")
    r = await client.get(f"{V3}/account/whoami", headers=bearer(session["access_token"]))
    assert r.status_code == 401
    await login(client, "xena", "pw-new")
