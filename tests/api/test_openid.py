"""OpenID: /user/{userId}/openid/request_token and the federation userinfo check."""
from __future__ import annotations

import time

USERINFO = "/_matrix/federation/v1/openid/userinfo"


async def userinfo(hs, token: str | None) -> tuple[int, dict]:
    r = await hs.client.get(USERINFO + (f"?access_token={token}" if token is not None else ""))
    return r.status_code, await r.get_json()


async def test_request_token_and_exchange(hs):
    alice = await hs.user("alice")
    got = await hs.ok("POST", f"/user/{alice.user_id}/openid/request_token", alice, {})
    assert got["token_type"] == "Bearer"
    assert got["matrix_server_name"] == hs.hearth.server_name
    assert got["expires_in"] == 3600
    token = got["access_token"]
    assert isinstance(token, str) and len(token) >= 32
    assert await userinfo(hs, token) == (200, {"sub": alice.user_id})
    # Stored hashed, never in the clear.
    rows = await hs.hearth.core.db.fetchall("SELECT token_hash FROM openid_tokens")
    assert rows and all(token not in r[0] for r in rows)


async def test_openid_token_is_not_an_access_token(hs):
    alice = await hs.user("alice")
    token = (await hs.ok("POST", f"/user/{alice.user_id}/openid/request_token", alice, {}))["access_token"]
    r = await hs.client.get("/_matrix/client/v3/account/whoami", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and (await r.get_json())["errcode"] == "M_UNKNOWN_TOKEN"
    # And an access token is not an OpenID token.
    assert (await userinfo(hs, alice.token))[1]["errcode"] == "M_UNKNOWN_TOKEN"


async def test_unknown_missing_and_expired_tokens(hs, monkeypatch):
    alice = await hs.user("alice")
    status, body = await userinfo(hs, "nope")
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    status, body = await userinfo(hs, None)
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    token = (await hs.ok("POST", f"/user/{alice.user_id}/openid/request_token", alice, {}))["access_token"]
    later = time.time() + 3601
    monkeypatch.setattr(time, "time", lambda: later)
    status, body = await userinfo(hs, token)
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")


async def test_only_for_oneself(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    await hs.error("POST", f"/user/{bob.user_id}/openid/request_token", alice, {}, "M_FORBIDDEN", 403)
    await hs.error("POST", f"/user/{alice.user_id}/openid/request_token", None, {}, "M_MISSING_TOKEN", 401)


async def test_third_party_lookups_are_empty(hs):
    alice = await hs.user("alice")
    assert await hs.ok("GET", "/thirdparty/protocols", alice) == {}
    await hs.error("GET", "/thirdparty/protocol/irc", alice, None, "M_NOT_FOUND", 404)
    assert await hs.ok("GET", "/thirdparty/location/irc?searchFields=x", alice) == []
    assert await hs.ok("GET", "/thirdparty/user/irc", alice) == []
    assert await hs.ok("GET", "/thirdparty/location?alias=%23a:hearth.test", alice) == []
    assert await hs.ok("GET", "/thirdparty/user?userid=@a:hearth.test", alice) == []
    await hs.error("GET", "/thirdparty/location", alice, None, "M_MISSING_PARAM", 400)
    await hs.error("GET", "/thirdparty/user", alice, None, "M_MISSING_PARAM", 400)
    await hs.error("GET", "/thirdparty/protocols", None, None, "M_MISSING_TOKEN", 401)
