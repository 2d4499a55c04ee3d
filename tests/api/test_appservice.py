"""The Application Service API (application-service-api.md) against a recording appservice: a real
HTTP server on loopback that Hearth sends transactions, pings and queries to."""
from __future__ import annotations

import asyncio
from urllib.parse import quote

import pytest

from appliance.app import create_app

from tests.appservice_recorder import RecordingAppService, registration

AS_TOKEN = "as-token-for-tests"
V3 = "/_matrix/client/v3"


@pytest.fixture
async def recorder():
    rec = RecordingAppService()
    await rec.start()
    yield rec
    await rec.stop()


@pytest.fixture
async def bridged(hs, recorder):
    await hs.hearth.appservices.registry.install(registration(recorder.url))
    return hs


async def as_call(hs, method: str, path: str, json=None, *, token: str = AS_TOKEN, prefix: str = V3, **params):
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())
    url = prefix + path + (f"?{query}" if query else "")
    kwargs = {"headers": {"Authorization": f"Bearer {token}"}}
    if json is not None:
        kwargs["json"] = json
    r = await hs.client.open(url, method=method, **kwargs)
    return r.status_code, await r.get_json()


async def register_ghost(hs, localpart: str, **extra) -> dict:
    status, body = await as_call(hs, "POST", "/register",
                                 {"type": "m.login.application_service", "username": localpart, **extra})
    assert status == 200, body
    return body


# -- identity assertion ---------------------------------------------------------------------


async def test_the_as_token_acts_as_the_bot_or_an_asserted_user_inside_the_namespace(bridged):
    hs = bridged
    status, body = await as_call(hs, "GET", "/account/whoami")
    assert status == 200 and body["user_id"] == "@_irc_bot:hearth.test" and "device_id" not in body
    await register_ghost(hs, "_irc_alice", inhibit_login=True)
    status, body = await as_call(hs, "GET", "/account/whoami", user_id="@_irc_alice:hearth.test")
    assert status == 200 and body["user_id"] == "@_irc_alice:hearth.test"
    # Outside the namespace: 403 M_EXCLUSIVE, even for a user that exists.
    await hs.user("mum")
    status, body = await as_call(hs, "GET", "/account/whoami", user_id="@mum:hearth.test")
    assert (status, body["errcode"]) == (403, "M_EXCLUSIVE")
    # Inside it but never registered: 403.
    status, body = await as_call(hs, "GET", "/account/whoami", user_id="@_irc_nobody:hearth.test")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    # A device that the user does not have: 400 M_UNKNOWN_DEVICE; one it has: acted with.
    status, body = await as_call(hs, "GET", "/account/whoami", user_id="@_irc_alice:hearth.test", device_id="NOPE")
    assert (status, body["errcode"]) == (400, "M_UNKNOWN_DEVICE")
    status, _ = await as_call(hs, "PUT", "/devices/GHOSTDEV", {"display_name": "bridge"},
                              user_id="@_irc_alice:hearth.test")
    assert status == 200  # an appservice creates devices (v1.17)
    status, body = await as_call(hs, "GET", "/account/whoami", user_id="@_irc_alice:hearth.test", device_id="GHOSTDEV")
    assert status == 200 and body["device_id"] == "GHOSTDEV"
    # And deletes them without UIA.
    status, body = await as_call(hs, "DELETE", "/devices/GHOSTDEV", {}, user_id="@_irc_alice:hearth.test")
    assert status == 200, body
    # A token that is no appservice's stays unknown.
    status, body = await as_call(hs, "GET", "/account/whoami", token="not-a-token")
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")


async def test_appservice_registration_and_login(bridged):
    hs = bridged
    body = await register_ghost(hs, "_irc_bob")
    assert body["user_id"] == "@_irc_bob:hearth.test" and body["access_token"]
    r = await hs.client.get(V3 + "/account/whoami", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert (await r.get_json())["user_id"] == "@_irc_bob:hearth.test"
    # Registered once: a second time is M_USER_IN_USE.
    status, again = await as_call(hs, "POST", "/register", {"type": "m.login.application_service",
                                                            "username": "_irc_bob"})
    assert (status, again["errcode"]) == (400, "M_USER_IN_USE")
    # Outside its namespace: M_EXCLUSIVE.
    status, out = await as_call(hs, "POST", "/register", {"type": "m.login.application_service", "username": "dad"})
    assert (status, out["errcode"]) == (400, "M_EXCLUSIVE")
    # Without or with a wrong token: 401.
    r = await hs.client.post(V3 + "/register", json={"type": "m.login.application_service", "username": "_irc_x"})
    assert r.status_code == 401 and (await r.get_json())["errcode"] == "M_MISSING_TOKEN"
    status, bad = await as_call(hs, "POST", "/register", {"type": "m.login.application_service", "username": "_irc_x"},
                                token="wrong")
    assert (status, bad["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    # Login as a ghost, no password.
    status, login = await as_call(hs, "POST", "/login", {"type": "m.login.application_service",
                                                         "identifier": {"type": "m.id.user", "user": "_irc_bob"}})
    assert status == 200 and login["user_id"] == "@_irc_bob:hearth.test" and login["device_id"]
    status, login = await as_call(hs, "POST", "/login", {"type": "m.login.application_service",
                                                         "identifier": {"type": "m.id.user", "user": "dad"}})
    assert (status, login["errcode"]) == (400, "M_EXCLUSIVE")
    r = await hs.client.get(V3 + "/login")
    assert {"type": "m.login.application_service"} in (await r.get_json())["flows"]


async def test_exclusive_namespaces_are_refused_to_everyone_else(bridged):
    hs = bridged
    r = await hs.client.get(V3 + "/register/available?username=_irc_carol")
    assert r.status_code == 400 and (await r.get_json())["errcode"] == "M_EXCLUSIVE"
    r = await hs.client.post(V3 + "/register", json={"username": "_irc_carol", "password": "a good long password",
                                                     "auth": {"type": "m.login.dummy"}})
    assert r.status_code == 400 and (await r.get_json())["errcode"] == "M_EXCLUSIVE"
    r = await hs.client.get(V3 + "/register/available?username=_irc_bot")  # the bot's own name too
    assert (await r.get_json())["errcode"] == "M_EXCLUSIVE"
    mum = await hs.user("mum")
    await hs.error("POST", "/createRoom", mum, {"room_alias_name": "_irc_chat"}, "M_EXCLUSIVE", 400)
    room_id = await hs.create_room(mum)
    await hs.error("PUT", f"/directory/room/{quote('#_irc_chat:hearth.test')}", mum, {"room_id": room_id},
                   "M_EXCLUSIVE", 400)
    # The appservice may: inside its namespace only.
    status, body = await as_call(hs, "POST", "/createRoom", {"room_alias_name": "_irc_chat"})
    assert status == 200, body
    status, body = await as_call(hs, "POST", "/createRoom", {"room_alias_name": "family"})
    assert (status, body["errcode"]) == (400, "M_EXCLUSIVE")
    # A non-exclusive look at a namespace does not hold anyone back.
    await hs.hearth.appservices.registry.install(registration(
        None, id="logger", as_token="as2", hs_token="hs2", sender="logger_bot",
        namespaces={"users": [{"regex": "@log_.*", "exclusive": False}], "aliases": [], "rooms": []}))
    r = await hs.client.get(V3 + "/register/available?username=log_me")
    assert r.status_code == 200


# -- transactions ---------------------------------------------------------------------------


async def test_events_of_interest_arrive_in_transactions_in_order(bridged, recorder):
    hs = bridged
    mum = await hs.user("mum")
    await register_ghost(hs, "_irc_alice", inhibit_login=True)
    private = await hs.create_room(mum)
    await hs.send(mum, private, {"msgtype": "m.text", "body": "not for the bridge"})
    room_id = await hs.create_room(mum, preset="public_chat")
    await hs.ok("POST", f"/rooms/{room_id}/invite", mum, {"user_id": "@_irc_alice:hearth.test"})
    status, _ = await as_call(hs, "POST", f"/rooms/{quote(room_id)}/join", {}, user_id="@_irc_alice:hearth.test")
    assert status == 200
    for i in range(3):
        await hs.send(mum, room_id, {"msgtype": "m.text", "body": f"hello {i}"})
    await recorder.wait_for(lambda: sum(e.get("content", {}).get("body", "").startswith("hello")
                                        for e in recorder.accepted_events()) == 3)
    events = recorder.accepted_events()
    bodies = [e["content"].get("body") for e in events if e["type"] == "m.room.message"]
    assert bodies == ["hello 0", "hello 1", "hello 2"]  # linearised, each once
    assert all(e["room_id"] == room_id for e in events if e["type"] == "m.room.message")
    assert "not for the bridge" not in str(events)
    # The invite of the ghost (its state key is in the namespace) went too.
    assert any(e["type"] == "m.room.member" and e["state_key"] == "@_irc_alice:hearth.test"
               and e["content"]["membership"] == "invite" for e in events)
    ids = [int(r.path.rsplit("/", 1)[1]) for r in recorder.transactions()]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(r.method == "PUT" for r in recorder.transactions())


async def test_a_refused_transaction_is_retried_with_the_same_id_and_body(bridged, recorder):
    hs = bridged
    recorder.refuse_transactions = 1
    await as_call(hs, "POST", "/createRoom", {})  # the bot's events are of interest
    await recorder.wait_for(lambda: any(r.accepted for r in recorder.transactions()))
    first, *rest = recorder.transactions()
    retried = [r for r in rest if r.path == first.path]
    assert not first.accepted and retried and retried[0].body == first.body
    assert retried[0].accepted
    store = hs.hearth.appservices.store
    for _ in range(100):
        status = await store.status("irc")
        if status.queued_txns == 0:
            break
        await asyncio.sleep(0.05)
    assert status.last_error and "500" in status.last_error and status.queued_txns == 0
    assert status.last_success_ts is not None


async def test_ping_reaches_the_appservice_and_sends_a_waiting_transaction_at_once(bridged, recorder):
    hs = bridged
    status, body = await as_call(hs, "POST", "/appservice/irc/ping", {"transaction_id": "t-1"},
                                 prefix="/_matrix/client/v1")
    assert status == 200 and isinstance(body["duration_ms"], int)
    ping = [r for r in recorder.requests if r.path == "/_matrix/app/v1/ping"][-1]
    assert ping.method == "POST" and ping.body == {"transaction_id": "t-1"}
    # Only the appservice itself may ask.
    mum = await hs.user("mum")
    r = await hs.client.post("/_matrix/client/v1/appservice/irc/ping", json={}, headers=mum.headers)
    assert r.status_code == 403 and (await r.get_json())["errcode"] == "M_FORBIDDEN"
    status, body = await as_call(hs, "POST", "/appservice/other/ping", {}, prefix="/_matrix/client/v1")
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    # A transaction refused twice waits out its backoff; a good ping sends it again at once.
    recorder.refuse_transactions = 2
    await as_call(hs, "POST", "/createRoom", {})
    await recorder.wait_for(lambda: len(recorder.transactions()) >= 2)
    before = len(recorder.transactions())
    status, _ = await as_call(hs, "POST", "/appservice/irc/ping", {}, prefix="/_matrix/client/v1")
    assert status == 200
    await recorder.wait_for(lambda: len(recorder.transactions()) > before, timeout=1.5)  # well before the backoff
    assert recorder.transactions()[-1].accepted


async def test_ping_says_what_is_wrong(hs, recorder):
    await hs.hearth.appservices.registry.install(registration(recorder.url, hs_token="not-what-it-expects"))
    status, body = await as_call(hs, "POST", "/appservice/irc/ping", {}, prefix="/_matrix/client/v1")
    assert (status, body["errcode"], body["status"]) == (502, "M_BAD_STATUS", 403)
    await recorder.stop()
    status, body = await as_call(hs, "POST", "/appservice/irc/ping", {}, prefix="/_matrix/client/v1")
    assert (status, body["errcode"]) == (502, "M_CONNECTION_FAILED")
    await hs.hearth.appservices.registry.install(registration(None, id="quiet", as_token="as3", hs_token="hs3",
                                                              sender="quiet_bot", namespaces={}))
    status, body = await as_call(hs, "POST", "/appservice/quiet/ping", {}, token="as3", prefix="/_matrix/client/v1")
    assert (status, body["errcode"]) == (400, "M_URL_NOT_SET")


# -- queries, timestamps --------------------------------------------------------------------


async def test_unknown_users_and_aliases_are_asked_of_the_appservice(bridged, recorder):
    hs = bridged

    async def make_user(request):
        localpart = request.path.rsplit("/", 1)[1].split(":")[0][1:]
        await register_ghost(hs, localpart, inhibit_login=True)
        return 200, {}

    async def make_room(request):
        alias = request.path.rsplit("/", 1)[1]
        status, body = await as_call(hs, "POST", "/createRoom", {"room_alias_name": alias.split(":")[0][1:]})
        assert status == 200, body
        return 200, {}

    recorder.handlers["/_matrix/app/v1/users/"] = make_user
    recorder.handlers["/_matrix/app/v1/rooms/"] = make_room
    mum = await hs.user("mum")
    profile = await hs.ok("GET", f"/profile/{quote('@_irc_erin:hearth.test')}", mum)
    assert profile["displayname"] == "_irc_erin"
    found = await hs.ok("GET", f"/directory/room/{quote('#_irc_games:hearth.test')}", mum)
    assert found["room_id"].startswith("!")
    # Outside every namespace nobody is asked.
    asked = len(recorder.requests)
    await hs.error("GET", f"/profile/{quote('@nobody:hearth.test')}", mum, None, "M_NOT_FOUND", 404)
    assert len(recorder.requests) == asked


async def test_an_appservice_sets_the_timestamp_of_what_it_sends(bridged):
    hs = bridged
    status, body = await as_call(hs, "POST", "/createRoom", {})
    room_id = body["room_id"]
    status, sent = await as_call(hs, "PUT", f"/rooms/{quote(room_id)}/send/m.room.message/t1",
                                 {"msgtype": "m.text", "body": "from yesterday"}, ts=1_700_000_000_000)
    assert status == 200
    status, event = await as_call(hs, "GET", f"/rooms/{quote(room_id)}/event/{quote(sent['event_id'])}")
    assert event["origin_server_ts"] == 1_700_000_000_000
    status, body = await as_call(hs, "PUT", f"/rooms/{quote(room_id)}/send/m.room.message/t2",
                                 {"msgtype": "m.text", "body": "x"}, ts=-5)
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    # A person's ts is ignored.
    mum = await hs.user("mum")
    room = await hs.create_room(mum)
    r = await hs.client.put(f"{V3}/rooms/{room}/send/m.room.message/t3?ts=5", json={"body": "now"},
                            headers=mum.headers)
    event_id = (await r.get_json())["event_id"]
    event = await hs.ok("GET", f"/rooms/{room}/event/{quote(event_id)}", mum)
    assert event["origin_server_ts"] > 1_700_000_000_000


# -- restarts ---------------------------------------------------------------------------------


async def test_queued_transactions_survive_a_restart_and_keep_their_ids(settings, recorder):
    recorder.refuse_transactions = 10**6  # down for now
    app = create_app(settings)
    async with app.test_app() as test_app:
        hearth = app.config["HEARTH"]
        await hearth.appservices.registry.install(registration(recorder.url))
        client = test_app.test_client()
        r = await client.post(V3 + "/createRoom", json={}, headers={"Authorization": f"Bearer {AS_TOKEN}"})
        assert r.status_code == 200
        await recorder.wait_for(lambda: len(recorder.transactions()) >= 1)
        queued = await hearth.appservices.store.oldest_txn("irc")
        assert queued is not None
    refused = recorder.transactions()[0]
    recorder.refuse_transactions = 0
    app = create_app(settings)
    async with app.test_app():
        await recorder.wait_for(lambda: any(r.accepted for r in recorder.transactions()))
        accepted = [r for r in recorder.transactions() if r.accepted][0]
        assert accepted.path == refused.path and accepted.body == refused.body
        store = app.config["HEARTH"].appservices.store
        for _ in range(50):  # the delivery is recorded just after the appservice's answer
            if await store.oldest_txn("irc") is None:
                break
            await asyncio.sleep(0.05)
        assert await store.oldest_txn("irc") is None


async def test_receipts_and_to_device_messages_arrive_when_the_appservice_asks(hs, recorder):
    await hs.hearth.appservices.registry.install(registration(recorder.url, receive_ephemeral=True))
    mum = await hs.user("mum")
    await register_ghost(hs, "_irc_gus", inhibit_login=True)
    status, _ = await as_call(hs, "PUT", "/devices/GUSDEV", {}, user_id="@_irc_gus:hearth.test")
    assert status == 200
    room_id = await hs.create_room(mum, preset="public_chat")
    status, _ = await as_call(hs, "POST", f"/rooms/{quote(room_id)}/join", {}, user_id="@_irc_gus:hearth.test")
    assert status == 200
    event_id = await hs.send(mum, room_id, {"msgtype": "m.text", "body": "read me"})
    await hs.ok("POST", f"/rooms/{room_id}/receipt/m.read/{quote(event_id)}", mum, {})
    await hs.ok("PUT", "/sendToDevice/m.room_key_request/td1", mum,
                {"messages": {"@_irc_gus:hearth.test": {"GUSDEV": {"hello": "ghost"}}}})

    def ephemeral():
        return [e for r in recorder.transactions() if r.accepted
                for e in r.body.get("ephemeral", [])]

    def to_device():
        return [m for r in recorder.transactions() if r.accepted
                for m in r.body.get("de.sorunome.msc2409.to_device", [])]

    await recorder.wait_for(lambda: ephemeral() and to_device())
    receipt = ephemeral()[0]
    assert receipt["type"] == "m.receipt" and receipt["room_id"] == room_id
    assert "@mum:hearth.test" in receipt["content"][event_id]["m.read"]
    message = to_device()[0]
    assert message == {"type": "m.room_key_request", "sender": "@mum:hearth.test", "content": {"hello": "ghost"},
                       "to_user_id": "@_irc_gus:hearth.test", "to_device_id": "GUSDEV"}
    assert all(r.body.get("de.sorunome.msc2409.ephemeral") == r.body.get("ephemeral")
               for r in recorder.transactions() if "ephemeral" in r.body)


async def test_no_ephemeral_data_unless_asked(bridged, recorder):
    hs = bridged
    mum = await hs.user("mum")
    await register_ghost(hs, "_irc_hal", inhibit_login=True)
    room_id = await hs.create_room(mum, preset="public_chat")
    await as_call(hs, "POST", f"/rooms/{quote(room_id)}/join", {}, user_id="@_irc_hal:hearth.test")
    event_id = await hs.send(mum, room_id, {"msgtype": "m.text", "body": "read me"})
    await hs.ok("POST", f"/rooms/{room_id}/receipt/m.read/{quote(event_id)}", mum, {})
    await recorder.wait_for(lambda: any("read me" in str(e) for e in recorder.accepted_events()))
    await hs.hearth.appservices.sender.flush("irc")
    assert not any("ephemeral" in r.body for r in recorder.transactions())


async def test_third_party_lookups_are_asked_of_the_appservice_with_the_protocol(hs, recorder):
    async def protocol(request):
        return 200, {"user_fields": ["network", "nickname"], "location_fields": ["network", "channel"],
                     "icon": "mxc://example.org/irc", "field_types": {}, "instances": []}

    async def users(request):
        return 200, [{"userid": "@_irc_zoe:hearth.test", "protocol": "irc", "fields": {"nickname": "zoe"}}]

    recorder.handlers["/_matrix/app/v1/thirdparty/protocol/irc"] = protocol
    recorder.handlers["/_matrix/app/v1/thirdparty/user"] = users
    await hs.hearth.appservices.registry.install(registration(recorder.url, protocols=["irc"]))
    mum = await hs.user("mum")
    protocols = await hs.ok("GET", "/thirdparty/protocols", mum)
    assert list(protocols) == ["irc"] and protocols["irc"]["user_fields"] == ["network", "nickname"]
    assert (await hs.ok("GET", "/thirdparty/protocol/irc", mum))["icon"] == "mxc://example.org/irc"
    await hs.error("GET", "/thirdparty/protocol/xmpp", mum, None, "M_NOT_FOUND", 404)
    found = await hs.call("GET", "/thirdparty/user/irc?nickname=zoe&network=libera", mum)
    assert found == (200, [{"userid": "@_irc_zoe:hearth.test", "protocol": "irc", "fields": {"nickname": "zoe"}}])
    asked = [r for r in recorder.requests if r.path == "/_matrix/app/v1/thirdparty/user/irc"][-1]
    assert asked.method == "GET"
    assert (await hs.call("GET", "/thirdparty/location/xmpp", mum)) == (200, [])


async def test_what_needs_a_device_says_so_when_an_appservice_asserts_none(bridged):
    hs = bridged
    status, body = await as_call(hs, "POST", "/keys/upload", {"one_time_keys": {}})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = await as_call(hs, "POST", "/pushers/set", {
        "pushkey": "k", "kind": "http", "app_id": "a", "app_display_name": "A", "device_display_name": "D",
        "lang": "en", "data": {"url": "https://push.example/_matrix/push/v1/notify"}})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    await hs.user("mum")
    status, _ = await as_call(hs, "PUT", "/sendToDevice/m.test/t1", {"messages": {"@mum:hearth.test": {"*": {}}}})
    assert status == 200


async def test_typing_presence_device_lists_and_key_counts(hs, recorder):
    """MSC2409's typing and presence, MSC3202's device lists and one-time key counts."""
    import nacl.signing
    from unpaddedbase64 import encode_base64

    from appliance.core.protocol.signing import SigningKey, sign_json

    await hs.hearth.appservices.registry.install(registration(recorder.url, receive_ephemeral=True,
                                                              **{"org.matrix.msc3202": True}))
    ghost = "@_irc_ivy:hearth.test"
    await register_ghost(hs, "_irc_ivy", inhibit_login=True)
    status, _ = await as_call(hs, "PUT", "/devices/IVYDEV", {}, user_id=ghost)
    assert status == 200
    key = SigningKey("IVYDEV", nacl.signing.SigningKey.generate())
    device_keys = sign_json({"user_id": ghost, "device_id": "IVYDEV",
                             "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
                             "keys": {"curve25519:IVYDEV": encode_base64(b"c" * 32),
                                      "ed25519:IVYDEV": key.verify_key_base64}}, ghost, key)
    otks = {f"signed_curve25519:K{n}": sign_json({"key": encode_base64(bytes([n]) * 32)}, ghost, key)
            for n in range(3)}
    status, body = await as_call(hs, "POST", "/keys/upload", {"device_keys": device_keys, "one_time_keys": otks},
                                 user_id=ghost, device_id="IVYDEV")
    assert status == 200, body
    mum = await hs.user("mum")
    room_id = await hs.create_room(mum, preset="public_chat")
    status, _ = await as_call(hs, "POST", f"/rooms/{quote(room_id)}/join", {}, user_id=ghost)
    assert status == 200
    await hs.ok("PUT", f"/rooms/{room_id}/typing/{quote(mum.user_id)}", mum, {"typing": True, "timeout": 30000})
    await hs.ok("PUT", f"/presence/{quote(mum.user_id)}/status", mum, {"presence": "online", "status_msg": "here"})

    def bodies():
        return [r.body for r in recorder.transactions() if r.accepted]

    def ephemeral(kind):
        return [e for b in bodies() for e in b.get("ephemeral", []) if e["type"] == kind]

    await recorder.wait_for(lambda: ephemeral("m.typing") and any(
        e["sender"] == mum.user_id and e["content"].get("status_msg") == "here" for e in ephemeral("m.presence")))
    typing = ephemeral("m.typing")[0]
    assert typing["room_id"] == room_id and typing["content"]["user_ids"] == [mum.user_id]
    presence = [e for e in ephemeral("m.presence") if e["sender"] == mum.user_id][-1]
    assert presence["content"]["presence"] == "online"
    changed = [u for b in bodies() for u in b.get("org.matrix.msc3202.device_lists", {}).get("changed", [])]
    assert ghost in changed
    counts = [b["org.matrix.msc3202.device_one_time_keys_count"] for b in bodies()
              if "org.matrix.msc3202.device_one_time_keys_count" in b]
    assert counts and counts[-1][ghost]["IVYDEV"]["signed_curve25519"] == 3
    assert all(ghost in b["org.matrix.msc3202.device_unused_fallback_key_types"] for b in bodies()
               if "org.matrix.msc3202.device_unused_fallback_key_types" in b)


async def test_removing_a_bridge_stops_it_and_can_take_its_users_out_of_rooms(bridged, recorder):
    hs = bridged
    setup = hs.hearth.admin.external_bridges
    mum = await hs.user("mum")
    await register_ghost(hs, "_irc_jo", inhibit_login=True)
    room_id = await hs.create_room(mum, preset="public_chat")
    status, _ = await as_call(hs, "POST", f"/rooms/{quote(room_id)}/join", {}, user_id="@_irc_jo:hearth.test")
    assert status == 200
    checks = {c.title: c for c in await setup.doctor("irc")}
    assert checks["Hearth can reach the bridge"].ok and checks["The bridge accepts Hearth's token"].ok
    assert "@_irc_bot:hearth.test is in no room" in checks["The bridge's bot is in rooms"].detail
    assert await setup.remove("irc", remove_ghosts=True)
    assert await hs.hearth.core.event_store.membership(room_id, "@_irc_jo:hearth.test") == "leave"
    status, body = await as_call(hs, "GET", "/account/whoami")
    assert (status, body["errcode"]) == (401, "M_UNKNOWN_TOKEN")
    r = await hs.client.get(V3 + "/register/available?username=_irc_new")
    assert r.status_code == 200  # the namespace is free again
    assert not await setup.remove("irc", remove_ghosts=False)
