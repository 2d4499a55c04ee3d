"""Devices, profiles (and their copy in m.room.member events), capabilities, deactivation leaving rooms."""
from __future__ import annotations

V3 = "/_matrix/client/v3"
PW = "pw-123456"


async def register(client, username: str, **extra) -> dict:
    r = await client.post(f"{V3}/register", json={"username": username, "password": PW, **extra,
                                                   "auth": {"type": "m.login.dummy"}})
    assert r.status_code == 200, await r.get_json()
    return await r.get_json()


async def login(client, user: str, **extra) -> dict:
    r = await client.post(f"{V3}/login", json={"type": "m.login.password", "user": user, "password": PW, **extra})
    assert r.status_code == 200, await r.get_json()
    return await r.get_json()


def bearer(session: dict) -> dict:
    return {"Authorization": f"Bearer {session['access_token']}"}


async def errcode(r) -> str:
    return (await r.get_json()).get("errcode")


def pw_auth(user: str, session: str | None = None, password: str = PW) -> dict:
    auth = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password}
    return auth | ({"session": session} if session else {})


async def make_room(hearth, creator: str) -> str:
    """A v12 public room built straight through the pipeline."""
    from appliance.core.protocol import room_versions

    create = await hearth.core.pipeline.create_event(None, creator, "m.room.create", {"room_version": "12"},
                                                state_key="", version=room_versions.get("12"))
    room_id = create.pdu.room_id
    await hearth.core.pipeline.create_event(room_id, creator, "m.room.member", {"membership": "join"}, state_key=creator)
    await hearth.core.pipeline.create_event(room_id, creator, "m.room.join_rules", {"join_rule": "public"}, state_key="")
    return room_id


# -- devices ------------------------------------------------------------------------------

async def test_devices_list_get_rename(client):
    a = await register(client, "alice", initial_device_display_name="Laptop")
    b = await login(client, "alice", initial_device_display_name="Phone")
    r = await client.get(f"{V3}/devices", headers=bearer(a))
    devices = {d["device_id"]: d for d in (await r.get_json())["devices"]}
    assert set(devices) == {a["device_id"], b["device_id"]}
    assert devices[b["device_id"]]["display_name"] == "Phone"
    assert devices[a["device_id"]]["last_seen_ts"] > 0 and "last_seen_ip" in devices[a["device_id"]]
    r = await client.put(f"{V3}/devices/{b['device_id']}", json={"display_name": "Old phone"}, headers=bearer(a))
    assert r.status_code == 200 and await r.get_json() == {}
    r = await client.get(f"{V3}/devices/{b['device_id']}", headers=bearer(a))
    assert (await r.get_json())["display_name"] == "Old phone"
    r = await client.put(f"{V3}/devices/{b['device_id']}", json={}, headers=bearer(a))
    assert r.status_code == 200
    r = await client.get(f"{V3}/devices/{b['device_id']}", headers=bearer(a))
    assert (await r.get_json())["display_name"] == "Old phone"
    r = await client.put(f"{V3}/devices/{b['device_id']}", json={"display_name": 3}, headers=bearer(a))
    assert r.status_code == 400 and await errcode(r) == "M_BAD_JSON"
    for method in ("get", "put"):
        r = await getattr(client, method)(f"{V3}/devices/NOSUCH", headers=bearer(a), json={})
        assert r.status_code == 404 and await errcode(r) == "M_NOT_FOUND"
    # Another user's device is not visible.
    c = await register(client, "carl")
    r = await client.get(f"{V3}/devices/{a['device_id']}", headers=bearer(c))
    assert r.status_code == 404
    r = await client.get(f"{V3}/devices")
    assert r.status_code == 401 and await errcode(r) == "M_MISSING_TOKEN"


async def test_delete_device_uia_signs_device_out(client):
    a = await register(client, "bea")
    b = await login(client, "bea")
    r = await client.delete(f"{V3}/devices/{b['device_id']}", json={}, headers=bearer(a))
    assert r.status_code == 401
    first = await r.get_json()
    assert first["flows"] == [{"stages": ["m.login.password"]}]
    r = await client.delete(f"{V3}/devices/{b['device_id']}", headers=bearer(a),
                             json={"auth": pw_auth("bea", first["session"], "wrong")})
    assert r.status_code == 401 and await errcode(r) == "M_FORBIDDEN"
    assert (await client.get(f"{V3}/account/whoami", headers=bearer(b))).status_code == 200
    r = await client.delete(f"{V3}/devices/{b['device_id']}", headers=bearer(a),
                             json={"auth": pw_auth("bea", first["session"])})
    assert r.status_code == 200
    r = await client.get(f"{V3}/account/whoami", headers=bearer(b))
    assert r.status_code == 401 and await errcode(r) == "M_UNKNOWN_TOKEN"
    r = await client.get(f"{V3}/devices/{b['device_id']}", headers=bearer(a))
    assert r.status_code == 404


async def test_delete_devices_bulk(client):
    a = await register(client, "cora")
    b = await login(client, "cora")
    c = await login(client, "cora")
    body = {"devices": [b["device_id"], c["device_id"]]}
    r = await client.post(f"{V3}/delete_devices", json=body, headers=bearer(a))
    assert r.status_code == 401
    session = (await r.get_json())["session"]
    # The session is for this list of devices only.
    r = await client.post(f"{V3}/delete_devices", headers=bearer(a),
                          json={"devices": [a["device_id"]], "auth": pw_auth("cora", session)})
    assert r.status_code == 403 and await errcode(r) == "M_FORBIDDEN"
    r = await client.post(f"{V3}/delete_devices", headers=bearer(a), json={**body, "auth": pw_auth("cora", session)})
    assert r.status_code == 200
    for s in (b, c):
        assert (await client.get(f"{V3}/account/whoami", headers=bearer(s))).status_code == 401
    assert (await client.get(f"{V3}/account/whoami", headers=bearer(a))).status_code == 200
    r = await client.post(f"{V3}/delete_devices", json={"devices": "x"}, headers=bearer(a))
    assert r.status_code == 400 and await errcode(r) == "M_BAD_JSON"


# -- profile ------------------------------------------------------------------------------

async def test_profile_get_set_delete(client):
    a = await register(client, "dora")
    me = "@dora:hearth.test"
    r = await client.get(f"{V3}/profile/{me}")
    assert await r.get_json() == {"displayname": "dora"}
    r = await client.put(f"{V3}/profile/{me}/displayname", json={"displayname": "Dora D."}, headers=bearer(a))
    assert r.status_code == 200 and await r.get_json() == {}
    r = await client.put(f"{V3}/profile/{me}/avatar_url", json={"avatar_url": "mxc://hearth.test/abc123"},
                         headers=bearer(a))
    assert r.status_code == 200
    r = await client.put(f"{V3}/profile/{me}/m.tz", json={"m.tz": "Europe/Paris"}, headers=bearer(a))
    assert r.status_code == 200
    r = await client.put(f"{V3}/profile/{me}/org.example.pets", json={"org.example.pets": ["cat"]}, headers=bearer(a))
    assert r.status_code == 200
    r = await client.get(f"{V3}/profile/{me}")
    assert await r.get_json() == {"displayname": "Dora D.", "avatar_url": "mxc://hearth.test/abc123",
                                  "m.tz": "Europe/Paris", "org.example.pets": ["cat"]}
    r = await client.get(f"{V3}/profile/{me}/displayname")
    assert await r.get_json() == {"displayname": "Dora D."}
    r = await client.delete(f"{V3}/profile/{me}/org.example.pets", headers=bearer(a))
    assert r.status_code == 200
    r = await client.get(f"{V3}/profile/{me}/org.example.pets")
    assert r.status_code == 404 and await errcode(r) == "M_NOT_FOUND"
    r = await client.put(f"{V3}/profile/{me}/avatar_url", json={"avatar_url": ""}, headers=bearer(a))
    r = await client.get(f"{V3}/profile/{me}/avatar_url")
    assert r.status_code == 404


async def test_profile_errors(client):
    a = await register(client, "ella")
    await register(client, "finn")
    me = "@ella:hearth.test"
    r = await client.put(f"{V3}/profile/@finn:hearth.test/displayname", json={"displayname": "x"}, headers=bearer(a))
    assert r.status_code == 403 and await errcode(r) == "M_FORBIDDEN"
    r = await client.put(f"{V3}/profile/{me}/displayname", json={"displayname": "x"})
    assert r.status_code == 401
    cases = [
        ("displayname", {"other": "x"}, "M_MISSING_PARAM"),
        ("displayname", {"displayname": 5}, "M_BAD_JSON"),
        ("avatar_url", {"avatar_url": "https://example.org/a.png"}, "M_INVALID_PARAM"),
        ("Bad.Key", {"Bad.Key": 1}, "M_INVALID_PARAM"),
        ("nodots", {"nodots": 1}, "M_INVALID_PARAM"),
        ("org.example." + "k" * 260, {}, "M_KEY_TOO_LARGE"),
        ("org.example.big", {"org.example.big": "x" * 70000}, "M_PROFILE_TOO_LARGE"),
    ]
    for key, body, code in cases:
        r = await client.put(f"{V3}/profile/{me}/{key}", json=body, headers=bearer(a))
        assert r.status_code == 400 and await errcode(r) == code, (key, await r.get_json())
    for who in ("@nobody:hearth.test", "@ella:elsewhere.example"):
        r = await client.get(f"{V3}/profile/{who}")
        assert r.status_code == 404 and await errcode(r) == "M_NOT_FOUND"
    r = await client.get(f"{V3}/profile/not-a-user-id")
    assert r.status_code == 400 and await errcode(r) == "M_INVALID_PARAM"


async def test_profile_change_is_copied_into_member_events(client):
    hearth = client.app.config["HEARTH"]
    a = await register(client, "gina")
    me = "@gina:hearth.test"
    joined = await make_room(hearth, me)
    left = await make_room(hearth, me)
    await hearth.core.pipeline.create_event(joined, me, "m.room.member", {"membership": "join", "reason": "kept"},
                                       state_key=me)
    await hearth.core.pipeline.create_event(left, me, "m.room.member", {"membership": "leave"}, state_key=me)
    r = await client.put(f"{V3}/profile/{me}/displayname", json={"displayname": "Gina"}, headers=bearer(a))
    assert r.status_code == 200
    member = await hearth.core.event_store.current_state_event(joined, "m.room.member", me)
    assert member.content == {"membership": "join", "displayname": "Gina", "reason": "kept"}
    r = await client.put(f"{V3}/profile/{me}/avatar_url", json={"avatar_url": "mxc://hearth.test/pic"},
                         headers=bearer(a))
    member = await hearth.core.event_store.current_state_event(joined, "m.room.member", me)
    assert member.content["avatar_url"] == "mxc://hearth.test/pic" and member.content["displayname"] == "Gina"
    assert (await hearth.core.event_store.current_state_event(left, "m.room.member", me)).content == {"membership": "leave"}
    r = await client.delete(f"{V3}/profile/{me}/displayname", headers=bearer(a))
    member = await hearth.core.event_store.current_state_event(joined, "m.room.member", me)
    assert "displayname" not in member.content and member.content["avatar_url"] == "mxc://hearth.test/pic"


async def test_deactivation_leaves_rooms(client):
    hearth = client.app.config["HEARTH"]
    a = await register(client, "hank")
    me = "@hank:hearth.test"
    other = "@owner:hearth.test"
    room = await make_room(hearth, me)
    invited_to = await make_room(hearth, other)
    await hearth.core.pipeline.create_event(invited_to, other, "m.room.member", {"membership": "invite"}, state_key=me)
    r = await client.post(f"{V3}/account/deactivate", json={"auth": pw_auth(me)}, headers=bearer(a))
    assert r.status_code == 200
    assert await hearth.core.event_store.membership(room, me) == "leave"
    assert await hearth.core.event_store.membership(invited_to, me) == "leave"


async def test_capabilities(client):
    a = await register(client, "ivan")
    r = await client.get(f"{V3}/capabilities", headers=bearer(a))
    caps = (await r.get_json())["capabilities"]
    assert caps["m.change_password"] == {"enabled": True}
    assert caps["m.room_versions"]["default"] == "12"
    assert caps["m.room_versions"]["available"] == {str(v): "stable" for v in range(1, 13)}
    assert caps["m.set_displayname"] == {"enabled": True} and caps["m.set_avatar_url"] == {"enabled": True}
    assert caps["m.3pid_changes"] == {"enabled": False} and caps["m.get_login_token"] == {"enabled": False}
    r = await client.get(f"{V3}/capabilities")
    assert r.status_code == 401
