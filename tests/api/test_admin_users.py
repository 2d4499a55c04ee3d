"""Admin API, users: /_synapse/admin/v1|v2|v3 users, reset_password, deactivate, whois, admin flag, devices."""
from __future__ import annotations

from tests.api.synapse_admin import ADMIN, admin_call, admin_ok


async def login(hs, localpart: str, password: str, **extra) -> tuple[int, dict]:
    return await hs.call("POST", "/login", None, {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart},
        "password": password, **extra})


NON_ADMIN_CALLS = [
    ("GET", "/v2/users", None),
    ("GET", "/v3/users", None),
    ("GET", "/v2/users/@boss:{server}", None),
    ("PUT", "/v2/users/@new:{server}", {"password": "pw"}),
    ("POST", "/v1/reset_password/@boss:{server}", {"new_password": "x"}),
    ("POST", "/v1/deactivate/@boss:{server}", {}),
    ("GET", "/v1/whois/@boss:{server}", None),
    ("GET", "/v1/users/@boss:{server}/admin", None),
    ("PUT", "/v1/users/@pleb:{server}/admin", {"admin": True}),
    ("GET", "/v1/users/@boss:{server}/joined_rooms", None),
    ("GET", "/v2/users/@boss:{server}/devices", None),
    ("POST", "/v2/users/@boss:{server}/delete_devices", {"devices": []}),
    ("GET", "/v1/rooms", None),
    ("GET", "/v1/rooms/!r:{server}", None),
    ("GET", "/v1/rooms/!r:{server}/members", None),
    ("GET", "/v1/rooms/!r:{server}/state", None),
    ("GET", "/v1/rooms/!r:{server}/block", None),
    ("PUT", "/v1/rooms/!r:{server}/block", {"block": True}),
    ("DELETE", "/v2/rooms/!r:{server}", {}),
    ("DELETE", "/v1/rooms/!r:{server}", {}),
    ("GET", "/v2/rooms/delete_status/abc", None),
    ("GET", "/v2/rooms/!r:{server}/delete_status", None),
    ("GET", "/v1/registration_tokens", None),
    ("POST", "/v1/registration_tokens/new", {}),
    ("GET", "/v1/registration_tokens/abc", None),
    ("PUT", "/v1/registration_tokens/abc", {}),
    ("DELETE", "/v1/registration_tokens/abc", None),
    ("GET", "/v1/event_reports", None),
    ("GET", "/v1/event_reports/1", None),
    ("DELETE", "/v1/event_reports/1", None),
    ("POST", "/v1/send_server_notice", {"user_id": "@boss:{server}", "content": {"body": "hi"}}),
    ("PUT", "/v1/send_server_notice/t1", {"user_id": "@boss:{server}", "content": {"body": "hi"}}),
]


async def test_every_admin_endpoint_refuses_non_admins_and_needs_a_token(hs, boss):
    pleb = await hs.user("pleb")
    server = hs.hearth.server_name
    for method, path, body in NON_ADMIN_CALLS:
        path = path.format(server=server)
        if isinstance(body, dict):
            body = {k: (v.format(server=server) if isinstance(v, str) else v) for k, v in body.items()}
        status, got = await admin_call(hs, method, path, pleb, body)
        assert (status, got.get("errcode")) == (403, "M_FORBIDDEN"), (method, path, status, got)
        assert got["error"] == "You are not a server admin"
        status, got = await admin_call(hs, method, path, None, body)
        assert (status, got.get("errcode")) == (401, "M_MISSING_TOKEN"), (method, path, status, got)
    # The admin's token is honoured as a query parameter too, as Synapse's docs show.
    r = await hs.client.get(f"{ADMIN}/v2/users?access_token={boss.token}")
    assert r.status_code == 200


async def test_server_version(hs, boss):
    body = await admin_ok(hs, "GET", "/v1/server_version", boss)
    assert body["server_version"].startswith("Hearth ")


async def test_list_users_paging_filters_and_order(hs, boss):
    for name in ("amy", "bob", "cat", "dan", "eve"):
        await hs.user(name, displayname=f"Person {name.upper()}")
    await hs.user("guesty", is_guest=True)
    page = await admin_ok(hs, "GET", "/v2/users?from=0&limit=2", boss)
    assert [u["name"] for u in page["users"]] == ["@amy:hearth.test", "@bob:hearth.test"]
    assert page["total"] == 7 and page["next_token"] == "2"
    seen = [u["name"] for u in page["users"]]
    token = page["next_token"]
    while token is not None:
        page = await admin_ok(hs, "GET", f"/v2/users?from={token}&limit=2", boss)
        seen += [u["name"] for u in page["users"]]
        token = page.get("next_token")
    assert seen == sorted(seen) and len(seen) == 7
    user = page["users"][-1]
    for key in ("name", "is_guest", "admin", "user_type", "deactivated", "erased", "shadow_banned",
                "displayname", "avatar_url", "creation_ts", "last_seen_ts", "locked"):
        assert key in user
    no_guests = await admin_ok(hs, "GET", "/v2/users?guests=false", boss)
    assert "@guesty:hearth.test" not in [u["name"] for u in no_guests["users"]] and no_guests["total"] == 6
    by_name = await admin_ok(hs, "GET", "/v2/users?name=person%20c", boss)
    assert [u["name"] for u in by_name["users"]] == ["@cat:hearth.test"]
    by_localpart = await admin_ok(hs, "GET", "/v2/users?name=da", boss)
    assert [u["name"] for u in by_localpart["users"]] == ["@dan:hearth.test"]
    by_id = await admin_ok(hs, "GET", "/v2/users?user_id=eve", boss)
    assert [u["name"] for u in by_id["users"]] == ["@eve:hearth.test"]
    admins = await admin_ok(hs, "GET", "/v2/users?admins=true", boss)
    assert [u["name"] for u in admins["users"]] == ["@boss:hearth.test"]
    backwards = await admin_ok(hs, "GET", "/v2/users?order_by=name&dir=b&limit=1", boss)
    assert backwards["users"][0]["name"] == "@guesty:hearth.test"
    by_admin = await admin_ok(hs, "GET", "/v2/users?order_by=admin&dir=b&limit=1", boss)
    assert by_admin["users"][0]["name"] == "@boss:hearth.test"
    for bad in ("from=-1", "limit=x", "order_by=nonsense", "dir=sideways", "guests=maybe"):
        status, body = await admin_call(hs, "GET", f"/v2/users?{bad}", boss)
        assert (status, body["errcode"]) == (400, "M_INVALID_PARAM"), bad


async def test_deactivated_users_in_v2_and_v3_listings(hs, boss):
    await hs.user("gone")
    await admin_ok(hs, "POST", "/v1/deactivate/@gone:hearth.test", boss, {})
    v2 = await admin_ok(hs, "GET", "/v2/users", boss)
    assert "@gone:hearth.test" not in [u["name"] for u in v2["users"]]
    v2_all = await admin_ok(hs, "GET", "/v2/users?deactivated=true", boss)
    assert "@gone:hearth.test" in [u["name"] for u in v2_all["users"]]
    v3_only = await admin_ok(hs, "GET", "/v3/users?deactivated=true", boss)
    assert [u["name"] for u in v3_only["users"]] == ["@gone:hearth.test"]
    v3_all = await admin_ok(hs, "GET", "/v3/users", boss)
    assert len(v3_all["users"]) == 2


async def test_create_modify_and_query_a_user(hs, boss):
    body = await admin_ok(hs, "PUT", "/v2/users/@carol:hearth.test", boss,
                          {"password": "s3cret-pw", "displayname": "Carol", "admin": False}, status=201)
    assert body["name"] == "@carol:hearth.test" and body["displayname"] == "Carol" and body["admin"] is False
    status, login_body = await login(hs, "carol", "s3cret-pw")
    assert status == 200, login_body
    got = await admin_ok(hs, "GET", "/v2/users/@carol:hearth.test", boss)
    assert got["displayname"] == "Carol" and got["deactivated"] is False and got["threepids"] == []
    assert got["creation_ts"] > 0 and got["last_seen_ts"] is not None
    # modify: 200, display name cleared with "", avatar set, made admin
    body = await admin_ok(hs, "PUT", "/v2/users/@carol:hearth.test", boss,
                          {"displayname": "", "avatar_url": "mxc://hearth.test/abc", "admin": True})
    assert body["displayname"] is None and body["avatar_url"] == "mxc://hearth.test/abc" and body["admin"] is True
    # a new password with logout_devices false keeps the session
    token = login_body["access_token"]
    await admin_ok(hs, "PUT", "/v2/users/@carol:hearth.test", boss, {"password": "new-pw", "logout_devices": False})
    assert (await hs.client.get("/_matrix/client/v3/account/whoami",
                                headers={"Authorization": f"Bearer {token}"})).status_code == 200
    # ... and by default it signs every device out
    await admin_ok(hs, "PUT", "/v2/users/@carol:hearth.test", boss, {"password": "newer-pw"})
    r = await hs.client.get("/_matrix/client/v3/account/whoami", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert (await login(hs, "carol", "newer-pw"))[0] == 200


async def test_put_user_errors(hs, boss):
    cases = [
        ("/v2/users/not-a-user", {}, 400, "M_INVALID_PARAM"),
        ("/v2/users/@x:elsewhere.org", {}, 400, "M_INVALID_PARAM"),
        ("/v2/users/@UPPER:hearth.test", {}, 400, "M_INVALID_PARAM"),
        ("/v2/users/@x:hearth.test", {"admin": "yes"}, 400, "M_INVALID_PARAM"),
        ("/v2/users/@x:hearth.test", {"password": 5}, 400, "M_INVALID_PARAM"),
        ("/v2/users/@x:hearth.test", {"avatar_url": "http://nope"}, 400, "M_INVALID_PARAM"),
        ("/v2/users/@x:hearth.test", {"threepids": [{"medium": "email", "address": "a@b.c"}]}, 400,
         "M_INVALID_PARAM"),
        ("/v2/users/@boss:hearth.test", {"admin": False}, 400, "M_INVALID_PARAM"),
    ]
    for path, body, status, errcode in cases:
        got, resp = await admin_call(hs, "PUT", path, boss, body)
        assert (got, resp.get("errcode")) == (status, errcode), (path, body, got, resp)
    status, resp = await admin_call(hs, "GET", "/v2/users/@nobody:hearth.test", boss)
    assert (status, resp["errcode"]) == (404, "M_NOT_FOUND")


async def test_reset_password_signs_out_and_old_password_fails(hs, boss):
    await admin_ok(hs, "PUT", "/v2/users/@dave:hearth.test", boss, {"password": "old-password"}, status=201)
    _, first = await login(hs, "dave", "old-password")
    _, second = await login(hs, "dave", "old-password")
    await admin_ok(hs, "POST", "/v1/reset_password/@dave:hearth.test", boss, {"new_password": "fresh-password"})
    status, body = await login(hs, "dave", "old-password")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    for session in (first, second):
        r = await hs.client.get("/_matrix/client/v3/account/whoami",
                                headers={"Authorization": f"Bearer {session['access_token']}"})
        assert r.status_code == 401 and (await r.get_json())["errcode"] == "M_UNKNOWN_TOKEN"
    assert (await login(hs, "dave", "fresh-password"))[0] == 200
    # logout_devices false keeps sessions
    _, third = await login(hs, "dave", "fresh-password")
    await admin_ok(hs, "POST", "/v1/reset_password/@dave:hearth.test", boss,
                   {"new_password": "other", "logout_devices": False})
    r = await hs.client.get("/_matrix/client/v3/account/whoami",
                            headers={"Authorization": f"Bearer {third['access_token']}"})
    assert r.status_code == 200
    status, body = await admin_call(hs, "POST", "/v1/reset_password/@dave:hearth.test", boss, {})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = await admin_call(hs, "POST", "/v1/reset_password/@ghost:hearth.test", boss, {"new_password": "x"})
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_deactivate_with_erase_leaves_rooms_and_blocks_login(hs, boss):
    await admin_ok(hs, "PUT", "/v2/users/@erin:hearth.test", boss, {"password": "pw-erin", "displayname": "Erin"},
                   status=201)
    _, session = await login(hs, "erin", "pw-erin")
    owner = await hs.user("owner")
    room_id = await hs.create_room(owner, preset="public_chat")
    r = await hs.client.post(f"/_matrix/client/v3/join/{room_id}",
                             headers={"Authorization": f"Bearer {session['access_token']}"}, json={})
    assert r.status_code == 200
    body = await admin_ok(hs, "POST", "/v1/deactivate/@erin:hearth.test", boss, {"erase": True})
    assert body == {"id_server_unbind_result": "success"}
    got = await admin_ok(hs, "GET", "/v2/users/@erin:hearth.test", boss)
    assert got["deactivated"] is True and got["erased"] is True and got["displayname"] is None
    assert await hs.hearth.core.event_store.membership(room_id, "@erin:hearth.test") == "leave"
    status, body = await login(hs, "erin", "pw-erin")
    assert status == 403
    r = await hs.client.get("/_matrix/client/v3/account/whoami",
                            headers={"Authorization": f"Bearer {session['access_token']}"})
    assert r.status_code in (401, 403)
    # reactivation needs a password
    status, body = await admin_call(hs, "PUT", "/v2/users/@erin:hearth.test", boss, {"deactivated": False})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    body = await admin_ok(hs, "PUT", "/v2/users/@erin:hearth.test", boss, {"deactivated": False, "password": "again"})
    assert body["deactivated"] is False and body["erased"] is False
    assert (await login(hs, "erin", "again"))[0] == 200
    # an empty body is accepted (erase defaults to false)
    await admin_ok(hs, "POST", "/v1/deactivate/@erin:hearth.test", boss)
    assert (await admin_ok(hs, "GET", "/v2/users/@erin:hearth.test", boss))["erased"] is False
    status, body = await admin_call(hs, "POST", "/v1/deactivate/@erin:hearth.test", boss, {"erase": "yes"})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")


async def test_whois_lists_devices_sessions_connections(hs, boss):
    frank = await hs.user("frank")
    await hs.client.get("/_matrix/client/v3/account/whoami",
                        headers={**frank.headers, "User-Agent": "FamilyPhone/1.0"})
    body = await admin_ok(hs, "GET", "/v1/whois/@frank:hearth.test", boss)
    assert body["user_id"] == "@frank:hearth.test"
    sessions = body["devices"][frank.device_id]["sessions"]
    connections = sessions[0]["connections"]
    assert connections and connections[0]["user_agent"] == "FamilyPhone/1.0"
    assert isinstance(connections[0]["last_seen"], int) and "ip" in connections[0]
    # the spec's client endpoint: a user may look at themselves, not at others
    r = await hs.client.get("/_matrix/client/v3/admin/whois/@frank:hearth.test", headers=frank.headers)
    assert r.status_code == 200 and (await r.get_json())["user_id"] == "@frank:hearth.test"
    r = await hs.client.get("/_matrix/client/v3/admin/whois/@boss:hearth.test", headers=frank.headers)
    assert r.status_code == 403
    r = await hs.client.get("/_matrix/client/v3/admin/whois/@frank:hearth.test", headers=boss.headers)
    assert r.status_code == 200
    status, body = await admin_call(hs, "GET", "/v1/whois/@nobody:hearth.test", boss)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")


async def test_admin_flag_get_and_put(hs, boss):
    grace = await hs.user("grace")
    assert await admin_ok(hs, "GET", "/v1/users/@grace:hearth.test/admin", boss) == {"admin": False}
    status, _ = await admin_call(hs, "GET", "/v2/users", grace)
    assert status == 403
    await admin_ok(hs, "PUT", "/v1/users/@grace:hearth.test/admin", boss, {"admin": True})
    assert await admin_ok(hs, "GET", "/v1/users/@grace:hearth.test/admin", boss) == {"admin": True}
    status, _ = await admin_call(hs, "GET", "/v2/users", grace)
    assert status == 200  # the new flag applies at once
    status, body = await admin_call(hs, "PUT", "/v1/users/@boss:hearth.test/admin", boss, {"admin": False})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = await admin_call(hs, "PUT", "/v1/users/@grace:hearth.test/admin", boss, {})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")


async def test_devices_and_joined_rooms(hs, boss):
    henry = await hs.user("henry")
    other = await hs.user("henry", device_id="SECOND")
    room_id = await hs.create_room(henry)
    joined = await admin_ok(hs, "GET", "/v1/users/@henry:hearth.test/joined_rooms", boss)
    assert joined == {"joined_rooms": [room_id], "total": 1}
    devices = await admin_ok(hs, "GET", "/v2/users/@henry:hearth.test/devices", boss)
    assert devices["total"] == 2 and {d["device_id"] for d in devices["devices"]} == {henry.device_id, "SECOND"}
    one = await admin_ok(hs, "GET", "/v2/users/@henry:hearth.test/devices/SECOND", boss)
    assert one["user_id"] == "@henry:hearth.test" and "last_seen_ts" in one
    await admin_ok(hs, "DELETE", "/v2/users/@henry:hearth.test/devices/SECOND", boss)
    r = await hs.client.get("/_matrix/client/v3/account/whoami", headers=other.headers)
    assert r.status_code == 401
    await admin_ok(hs, "POST", "/v2/users/@henry:hearth.test/delete_devices", boss, {"devices": [henry.device_id]})
    assert (await admin_ok(hs, "GET", "/v2/users/@henry:hearth.test/devices", boss))["total"] == 0
    status, body = await admin_call(hs, "GET", "/v2/users/@henry:hearth.test/devices/SECOND", boss)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await admin_call(hs, "POST", "/v2/users/@henry:hearth.test/delete_devices", boss, {"devices": 3})
    assert status == 400
