"""Compatibility: the admin API driven with the requests synadm (github.com/JOJ0/synadm, a popular CLI
for Synapse's admin API) sends — its paths (user and room IDs put into the path unescaped), query
parameters (None left out, booleans as "true"/"false") and bodies — and the response fields it reads."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

BASE = "/_synapse/admin"


class SynadmLike:
    """A client shaped like synadm's `ApiRequest.query`: `{base}/{path}/{urlpart}` with a Bearer
    token, `params` through requests' encoding (None dropped), `json=data`."""

    def __init__(self, client, token: str):
        self.client = client
        self.headers = {"Accept": "application/json", "Authorization": f"Bearer {token}"}

    async def query(self, method: str, urlpart: str, params: dict | None = None, data: Any = None,
                    path: str = BASE) -> tuple[int, dict]:
        url = f"{path}/{urlpart}"
        if params:
            kept = {k: v for k, v in params.items() if v is not None}
            if kept:
                url += "?" + urlencode(kept)
        r = await self.client.open(url, method=method.upper(), headers=self.headers, json=data)
        return r.status_code, await r.get_json()


@pytest.fixture
async def synadm(hs):
    await hs.hearth.accounts.registration.create_user("admin", "admin-password", admin=True)
    # `synadm matrix login` / the config step: POST client/r0/login with the legacy `user` field
    status, body = await hs.call("POST", "/login", None, {
        "password": "admin-password", "type": "m.login.password", "user": "@admin:hearth.test",
        "initial_device_display_name": "synadm matrix login command"})
    assert status == 200, body
    return SynadmLike(hs.client, body["access_token"])


async def test_synadm_user_commands(hs, synadm):
    await hs.user("alice", displayname="Alice")
    # user list: params from, limit, guests, deactivated, name, user_id
    status, body = await synadm.query("get", "v2/users", params={
        "from": 0, "limit": 100, "guests": "false", "deactivated": None, "name": None, "user_id": None})
    assert status == 200 and body["total"] == 2
    assert {u["name"] for u in body["users"]} == {"@admin:hearth.test", "@alice:hearth.test"}
    status, body = await synadm.query("get", "v2/users", params={"from": 0, "limit": 100, "guests": None,
                                                                "deactivated": "true", "name": "ali"})
    assert [u["name"] for u in body["users"]] == ["@alice:hearth.test"]
    # user modify: create with password, displayname, admin
    status, body = await synadm.query("put", "v2/users/@bob:hearth.test", data={
        "password": "bob-password", "displayname": "Bob", "admin": True})
    assert status == 201 and body["admin"] is True and body["displayname"] == "Bob"
    # user details
    status, body = await synadm.query("get", "v2/users/@bob:hearth.test")
    assert status == 200 and body["name"] == "@bob:hearth.test" and body["deactivated"] is False
    # user password, no logout
    status, body = await synadm.query("post", "v1/reset_password/@bob:hearth.test",
                                      data={"new_password": "bob-2", "logout_devices": False})
    assert (status, body) == (200, {})
    # user whois / devices / membership
    status, body = await synadm.query("get", "v1/whois/@alice:hearth.test")
    assert status == 200 and body["user_id"] == "@alice:hearth.test" and len(body["devices"]) == 1
    status, body = await synadm.query("get", "v2/users/@alice:hearth.test/devices")
    assert status == 200 and body["total"] == 1 and "last_seen_ts" in body["devices"][0]
    device_id = body["devices"][0]["device_id"]
    status, body = await synadm.query("get", "v1/users/@alice:hearth.test/joined_rooms")
    assert (status, body) == (200, {"joined_rooms": [], "total": 0})
    # user prune-devices → delete_devices
    status, body = await synadm.query("post", "v2/users/@alice:hearth.test/delete_devices",
                                      data={"devices": [device_id]})
    assert (status, body) == (200, {})
    # user deactivate with gdpr erase
    status, body = await synadm.query("post", "v1/deactivate/@alice:hearth.test", data={"erase": True})
    assert status == 200 and body == {"id_server_unbind_result": "success"}
    # user modify --deactivation activate needs a password, as in Synapse
    status, body = await synadm.query("put", "v2/users/@alice:hearth.test", data={"deactivated": False})
    assert status == 400
    status, body = await synadm.query("put", "v2/users/@alice:hearth.test",
                                      data={"password": "back", "deactivated": False})
    assert status == 200 and body["deactivated"] is False


async def test_synadm_room_commands(hs, synadm):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, name="Garden", preset="public_chat")
    # room list: from, limit, search_term, order_by, dir (None or "b")
    status, body = await synadm.query("get", "v1/rooms", params={
        "from": 0, "limit": 100, "search_term": None, "order_by": None, "dir": None})
    assert status == 200 and body["total_rooms"] == 1 and body["rooms"][0]["room_id"] == room_id
    status, body = await synadm.query("get", "v1/rooms", params={
        "from": 0, "limit": 100, "search_term": "Gard", "order_by": "size", "dir": "b"})
    assert [r["name"] for r in body["rooms"]] == ["Garden"]
    status, body = await synadm.query("get", f"v1/rooms/{room_id}")
    assert status == 200 and body["name"] == "Garden" and body["joined_members"] == 1
    status, body = await synadm.query("get", f"v1/rooms/{room_id}/members")
    assert body == {"members": ["@alice:hearth.test"], "total": 1}
    status, body = await synadm.query("get", f"v1/rooms/{room_id}/state")
    assert status == 200 and any(ev["type"] == "m.room.name" for ev in body["state"])
    # room delete: synadm sends the v1 form with block and purge always present
    status, body = await synadm.query("delete", f"v1/rooms/{room_id}", data={"block": True, "purge": True})
    assert status == 200 and body["kicked_users"] == ["@alice:hearth.test"] and body["new_room_id"] is None
    await hs.error("POST", f"/join/{room_id}", alice, {}, "M_FORBIDDEN", 403)
    status, body = await synadm.query("get", "v1/server_version")
    assert status == 200 and "server_version" in body


async def test_synadm_regtok_and_notice_commands(hs, synadm):
    # regtok new: length and uses_allowed always sent, expiry_time null, token only if given
    status, body = await synadm.query("post", "v1/registration_tokens/new",
                                      data={"length": 16, "uses_allowed": None, "expiry_time": None})
    assert status == 200 and len(body["token"]) == 16 and body["uses_allowed"] is None
    status, body = await synadm.query("post", "v1/registration_tokens/new", data={
        "length": 16, "uses_allowed": 3, "expiry_time": None, "token": "cousins"})
    assert status == 200 and body["token"] == "cousins" and body["uses_allowed"] == 3
    # regtok list: valid as "true"/"false" or left out
    status, body = await synadm.query("get", "v1/registration_tokens", params={"valid": None})
    assert status == 200 and len(body["registration_tokens"]) == 2
    status, body = await synadm.query("get", "v1/registration_tokens", params={"valid": "true"})
    assert len(body["registration_tokens"]) == 2
    status, body = await synadm.query("get", "v1/registration_tokens/cousins")
    assert body["expiry_time"] is None and body["completed"] == 0
    # regtok update: -1 becomes null (unlimited)
    status, body = await synadm.query("put", "v1/registration_tokens/cousins", data={"uses_allowed": None})
    assert status == 200 and body["uses_allowed"] is None
    status, body = await synadm.query("delete", "v1/registration_tokens/cousins")
    assert (status, body) == (200, {})
    # notice send --to-regex: pages through user_list(from, limit, True, False, "", "") by next_token
    await hs.user("alice")
    names: list[str] = []
    params: dict[str, Any] = {"from": 0, "limit": 1, "guests": "true", "deactivated": None, "name": "",
                              "user_id": ""}
    while True:
        status, batch = await synadm.query("get", "v2/users", params=params)
        assert status == 200 and "users" in batch
        names += [u["name"] for u in batch["users"]]
        if "next_token" not in batch:
            break
        params["from"] = batch["next_token"]
    assert names == ["@admin:hearth.test", "@alice:hearth.test"]
    # then POST v1/send_server_notice with user_id and an m.text content, one per user
    status, body = await synadm.query("post", "v1/send_server_notice", data={
        "user_id": "@alice:hearth.test",
        "content": {"msgtype": "m.text", "body": "Hello", "format": "org.matrix.custom.html",
                    "formatted_body": "<b>Hello</b>"}})
    assert status == 200 and body["event_id"].startswith("$")
