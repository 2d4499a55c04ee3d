"""Simplified sliding sync (MSC4186) over HTTP: lists, filters, required_state, subscriptions,
pos tokens and long-polls, counts, heroes, invites and every extension matrix-rust-sdk asks for."""
from __future__ import annotations

import asyncio
import time

SS = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"

DEFAULT_STATE = [["m.room.name", ""], ["m.room.encryption", ""], ["m.room.member", "$LAZY"],
                 ["m.room.member", "$ME"], ["m.room.create", ""], ["m.room.power_levels", ""]]


async def ss(hs, user, body: dict, pos: str | None = None, timeout: int | None = None,
             status: int = 200) -> dict:
    q = []
    if pos is not None:
        q.append(f"pos={pos}")
    if timeout is not None:
        q.append(f"timeout={timeout}")
    path = SS + ("?" + "&".join(q) if q else "")
    r = await hs.client.open(path, method="POST", headers=user.headers, json=body)
    got = await r.get_json()
    assert r.status_code == status, (r.status_code, got)
    return got


def all_rooms(limit: int = 1, end: int = 19, **filters) -> dict:
    lst: dict = {"ranges": [[0, end]], "timeline_limit": limit, "required_state": DEFAULT_STATE}
    if filters:
        lst["filters"] = filters
    return {"conn_id": "room-list", "lists": {"all": lst}}


def bodies(room: dict) -> list[str]:
    return [e["content"].get("body") for e in room.get("timeline", []) if e["type"] == "m.room.message"]


async def test_versions_announces_simplified_sliding_sync(hs):
    r = await hs.client.get("/_matrix/client/versions")
    assert (await r.get_json())["unstable_features"]["org.matrix.simplified_msc3575"] is True


async def test_first_request_lists_rooms_newest_first_with_timeline_and_state(hs):
    alice = await hs.user("alice", displayname="Alice")
    older = await hs.create_room(alice, name="Older")
    newer = await hs.create_room(alice, name="Newer")
    await hs.send(alice, older, {"msgtype": "m.text", "body": "old news"})
    await hs.send(alice, newer, {"msgtype": "m.text", "body": "fresh"})
    got = await ss(hs, alice, all_rooms(limit=1))
    assert got["pos"]
    assert got["lists"]["all"]["count"] == 2
    rooms = got["rooms"]
    assert set(rooms) == {older, newer}
    assert rooms[newer]["bump_stamp"] > rooms[older]["bump_stamp"]
    room = rooms[newer]
    assert room["initial"] is True
    assert room["name"] == "Newer"
    assert bodies(room) == ["fresh"]
    assert room["limited"] is True and room["prev_batch"]
    assert room["joined_count"] == 1 and room["invited_count"] == 0
    assert room["notification_count"] == 0 and room["highlight_count"] == 0
    types = {(e["type"], e["state_key"]) for e in room["required_state"]}
    assert ("m.room.name", "") in types and ("m.room.create", "") in types
    assert ("m.room.member", alice.user_id) in types  # $ME
    assert ("m.room.join_rules", "") not in types    # not asked for
    assert all("room_id" not in e for e in room["timeline"])


# -- pos tokens, incremental responses, long-polls ------------------------------------------------

async def test_incremental_response_carries_only_what_changed(hs):
    alice = await hs.user("alice")
    quiet = await hs.create_room(alice, name="Quiet")
    busy = await hs.create_room(alice, name="Busy")
    first = await ss(hs, alice, all_rooms(limit=5))
    await hs.send(alice, busy, {"msgtype": "m.text", "body": "one"})
    await hs.send(alice, busy, {"msgtype": "m.text", "body": "two"})
    second = await ss(hs, alice, all_rooms(limit=5), pos=first["pos"])
    assert set(second["rooms"]) == {busy}
    room = second["rooms"][busy]
    assert "initial" not in room
    assert bodies(room) == ["one", "two"]
    assert room["num_live"] == 2 and room["limited"] is False
    assert "required_state" not in room  # no state changed
    assert second["rooms"][busy]["bump_stamp"] > first["rooms"][quiet]["bump_stamp"]
    # Nothing new: an empty answer (no timeout asked for).
    third = await ss(hs, alice, all_rooms(limit=5), pos=second["pos"])
    assert third["rooms"] == {} and third["lists"]["all"]["count"] == 2


async def test_many_new_events_give_a_limited_timeline(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice)
    first = await ss(hs, alice, all_rooms(limit=3))
    for i in range(6):
        await hs.send(alice, room_id, {"msgtype": "m.text", "body": f"m{i}"})
    room = (await ss(hs, alice, all_rooms(limit=3), pos=first["pos"]))["rooms"][room_id]
    assert bodies(room) == ["m3", "m4", "m5"]
    assert room["limited"] is True and room["num_live"] == 3
    r = await hs.client.get(f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=3&from={room['prev_batch']}",
                            headers=alice.headers)
    older = [e["content"]["body"] for e in (await r.get_json())["chunk"] if e["type"] == "m.room.message"]
    assert older == ["m2", "m1", "m0"]  # prev_batch is a /messages token


async def test_unknown_pos_and_a_retried_pos(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice)
    err = await ss(hs, alice, all_rooms(), pos="nonsense", status=400)
    assert err["errcode"] == "M_UNKNOWN_POS"
    first = await ss(hs, alice, all_rooms())
    await hs.send(alice, room_id, {"msgtype": "m.text", "body": "again"})
    a = await ss(hs, alice, all_rooms(), pos=first["pos"])
    b = await ss(hs, alice, all_rooms(), pos=first["pos"])  # the answer to `a` was lost: same again
    assert bodies(a["rooms"][room_id]) == bodies(b["rooms"][room_id]) == ["again"]
    assert a["pos"] != b["pos"]
    # Another connection of the same device has its own positions.
    other = dict(all_rooms(), conn_id="encryption")
    err = await ss(hs, alice, other, pos=first["pos"], status=400)
    assert err["errcode"] == "M_UNKNOWN_POS"


async def test_long_poll_wakes_for_a_message_and_times_out_empty(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room_id}", bob)
    first = await ss(hs, bob, all_rooms())

    t0 = time.monotonic()
    empty = await ss(hs, bob, all_rooms(), pos=first["pos"], timeout=300)
    assert time.monotonic() - t0 >= 0.28
    assert empty["rooms"] == {}

    waiting = asyncio.create_task(ss(hs, bob, all_rooms(), pos=empty["pos"], timeout=20000))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    t0 = time.monotonic()
    await hs.send(alice, room_id, {"msgtype": "m.text", "body": "wake up"})
    woke = await asyncio.wait_for(waiting, 5)
    assert time.monotonic() - t0 < 2
    assert bodies(woke["rooms"][room_id]) == ["wake up"]


async def test_long_poll_wakes_for_an_invite(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    first = await ss(hs, bob, all_rooms())
    assert first["lists"]["all"]["count"] == 0
    waiting = asyncio.create_task(ss(hs, bob, all_rooms(), pos=first["pos"], timeout=20000))
    await asyncio.sleep(0.2)
    room_id = await hs.create_room(alice, name="Party", invite=[bob.user_id], is_direct=True)
    woke = await asyncio.wait_for(waiting, 5)
    assert woke["lists"]["all"]["count"] == 1
    invited = woke["rooms"][room_id]
    types = {e["type"] for e in invited["invite_state"]}
    assert {"m.room.create", "m.room.member", "m.room.name"} <= types
    assert invited["is_dm"] is True and invited["name"] == "Party"
    assert "timeline" not in invited and "required_state" not in invited
    # Joining turns it into a joined room, sent from scratch with its timeline.
    await hs.ok("POST", f"/join/{room_id}", bob)
    joined = (await ss(hs, bob, all_rooms(limit=5), pos=woke["pos"]))["rooms"][room_id]
    assert joined["initial"] is True
    assert any(e["type"] == "m.room.member" and e["state_key"] == bob.user_id for e in joined["timeline"])


# -- lists, ranges and filters --------------------------------------------------------------------

async def test_ranges_window_and_a_room_moving_into_it(hs):
    alice = await hs.user("alice")
    rooms = [await hs.create_room(alice, name=f"r{i}") for i in range(8)]
    body = all_rooms(end=2)
    first = await ss(hs, alice, body)
    assert first["lists"]["all"]["count"] == 8
    assert set(first["rooms"]) == set(rooms[-3:])  # the three newest
    await hs.send(alice, rooms[0], {"msgtype": "m.text", "body": "back on top"})
    second = await ss(hs, alice, body, pos=first["pos"])
    assert set(second["rooms"]) == {rooms[0]}
    assert second["rooms"][rooms[0]]["initial"] is True  # never sent to this connection before
    assert bodies(second["rooms"][rooms[0]]) == ["back on top"]
    # Two ranges of one list.
    two = await ss(hs, alice, {"lists": {"all": {"ranges": [[0, 0], [7, 7]], "timeline_limit": 0}}})
    assert set(two["rooms"]) == {rooms[0], rooms[1]}


async def test_filters(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    plain = await hs.create_room(alice, name="Plain")
    enc = await hs.create_room(alice, name="Secret", initial_state=[
        {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
    space = await hs.create_room(alice, name="Family space", creation_content={"type": "m.space"})
    child = await hs.create_room(alice, name="Child")
    await hs.ok("PUT", f"/rooms/{space}/state/m.space.child/{child}", alice, {"via": ["hearth.test"]})
    dm = await hs.create_room(alice, preset="trusted_private_chat")
    await hs.ok("PUT", f"/user/{alice.user_id}/account_data/m.direct", alice, {bob.user_id: [dm]})
    await hs.ok("PUT", f"/user/{alice.user_id}/rooms/{plain}/tags/m.favourite", alice, {})
    invite = await hs.create_room(bob, name="Come", invite=[alice.user_id])

    async def listed(**filters) -> set[str]:
        got = await ss(hs, alice, {"lists": {"l": {"ranges": [[0, 50]], "timeline_limit": 0, "filters": filters}}})
        assert got["lists"]["l"]["count"] == len(got["rooms"])
        return set(got["rooms"])

    everything = {plain, enc, space, child, dm, invite}
    assert await listed() == everything
    assert await listed(is_dm=True) == {dm}
    assert await listed(is_dm=False) == everything - {dm}
    assert await listed(is_encrypted=True) == {enc}
    assert await listed(is_invite=True) == {invite}
    assert await listed(is_invite=False) == everything - {invite}
    assert await listed(room_types=["m.space"]) == {space}
    assert await listed(room_types=[None]) == everything - {space}
    assert await listed(not_room_types=["m.space"]) == everything - {space}
    assert await listed(spaces=[space]) == {child}
    assert await listed(tags=["m.favourite"]) == {plain}
    assert await listed(not_tags=["m.favourite"]) == everything - {plain}
    assert await listed(is_dm=False, is_encrypted=False, not_room_types=["m.space"], is_invite=False) == {
        plain, child}


async def test_filters_follow_changes_on_a_live_connection(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice)
    body = {"lists": {"dms": {"ranges": [[0, 9]], "timeline_limit": 0, "filters": {"is_dm": True}},
                      "enc": {"ranges": [[0, 9]], "timeline_limit": 0, "filters": {"is_encrypted": True}}}}
    first = await ss(hs, alice, body)
    assert first["lists"] == {"dms": {"count": 0}, "enc": {"count": 0}}
    await hs.ok("PUT", f"/user/{alice.user_id}/account_data/m.direct", alice, {bob.user_id: [room_id]})
    await hs.ok("PUT", f"/rooms/{room_id}/state/m.room.encryption", alice, {"algorithm": "m.megolm.v1.aes-sha2"})
    second = await ss(hs, alice, body, pos=first["pos"])
    assert second["lists"] == {"dms": {"count": 1}, "enc": {"count": 1}}
    assert second["rooms"][room_id]["is_dm"] is True


async def test_left_room_shows_its_leave_once_then_goes(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room_id}", bob)
    first = await ss(hs, bob, all_rooms(limit=3))
    await hs.ok("POST", f"/rooms/{room_id}/leave", bob)
    await hs.send(alice, room_id, {"msgtype": "m.text", "body": "after you left"})
    second = await ss(hs, bob, all_rooms(limit=3), pos=first["pos"])
    room = second["rooms"][room_id]
    assert any(e["type"] == "m.room.member" and e["content"]["membership"] == "leave" for e in room["timeline"])
    assert "after you left" not in bodies(room)
    third = await ss(hs, bob, all_rooms(limit=3), pos=second["pos"])
    assert third["lists"]["all"]["count"] == 0 and room_id not in third["rooms"]
    assert (await ss(hs, bob, all_rooms()))["lists"]["all"]["count"] == 0  # a new connection: not listed


async def test_kicked_room_stays_listed(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room_id}", bob)
    await hs.ok("POST", f"/rooms/{room_id}/kick", alice, {"user_id": bob.user_id})
    got = await ss(hs, bob, all_rooms(limit=2))
    assert got["lists"]["all"]["count"] == 1
    assert got["rooms"][room_id]["timeline"][-1]["content"]["membership"] == "leave"


# -- required_state, subscriptions, timeline_limit ------------------------------------------------

async def test_required_state_wildcards_me_and_lazy(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    carol = await hs.user("carol")
    room_id = await hs.create_room(alice, name="Wild", topic="t")
    await hs.ok("PUT", f"/rooms/{room_id}/state/m.room.join_rules", alice, {"join_rule": "public"})
    for u in (bob, carol):
        await hs.ok("POST", f"/join/{room_id}", u)
    await hs.send(bob, room_id, {"msgtype": "m.text", "body": "bob speaks"})

    async def state_of(required_state: list, limit: int = 1) -> set[tuple[str, str]]:
        got = await ss(hs, alice, {"room_subscriptions": {room_id: {"timeline_limit": limit,
                                                                    "required_state": required_state}}})
        return {(e["type"], e["state_key"]) for e in got["rooms"][room_id].get("required_state", [])}

    everything = await state_of([["*", "*"]])
    assert {("m.room.create", ""), ("m.room.topic", ""), ("m.room.member", carol.user_id)} <= everything
    assert await state_of([["m.room.member", "*"]]) == {("m.room.member", u.user_id) for u in (alice, bob, carol)}
    assert await state_of([["*", ""]]) == {k for k in everything if k[1] == ""}
    assert await state_of([["m.room.member", "$ME"]]) == {("m.room.member", alice.user_id)}
    assert await state_of([["m.room.member", "$LAZY"]]) == {("m.room.member", bob.user_id)}
    assert await state_of([["m.room.topic", ""], ["m.room.nope", ""]]) == {("m.room.topic", "")}
    assert await state_of([]) == set()


async def test_lazy_members_sent_once_and_new_senders_added(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    carol = await hs.user("carol")
    room_id = await hs.create_room(alice, preset="public_chat")
    for u in (bob, carol):
        await hs.ok("POST", f"/join/{room_id}", u)
    await hs.send(bob, room_id)
    sub = {"room_subscriptions": {room_id: {"timeline_limit": 1, "required_state": [["m.room.member", "$LAZY"]]}}}
    first = await ss(hs, alice, sub)
    assert {e["state_key"] for e in first["rooms"][room_id]["required_state"]} == {bob.user_id}
    await hs.send(bob, room_id)
    second = await ss(hs, alice, sub, pos=first["pos"])
    assert "required_state" not in second["rooms"][room_id]  # bob's member event already sent
    await hs.send(carol, room_id)
    third = await ss(hs, alice, sub, pos=second["pos"])
    assert {e["state_key"] for e in third["rooms"][room_id]["required_state"]} == {carol.user_id}


async def test_state_changes_arrive_and_required_state_growth_resends(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, name="Before")
    body = {"lists": {"all": {"ranges": [[0, 9]], "timeline_limit": 0, "required_state": [["m.room.name", ""]]}}}
    first = await ss(hs, alice, body)
    await hs.ok("PUT", f"/rooms/{room_id}/state/m.room.name", alice, {"name": "After"})
    await hs.ok("PUT", f"/rooms/{room_id}/state/m.room.topic", alice, {"topic": "not asked"})
    second = await ss(hs, alice, body, pos=first["pos"])
    room = second["rooms"][room_id]
    assert room["name"] == "After"
    assert [(e["type"], e["content"]) for e in room["required_state"]] == [("m.room.name", {"name": "After"})]
    grown = {"lists": {"all": {"ranges": [[0, 9]], "timeline_limit": 0,
                               "required_state": [["m.room.name", ""], ["m.room.topic", ""]]}}}
    third = await ss(hs, alice, grown, pos=second["pos"])
    assert ("m.room.topic", "") in {(e["type"], e["state_key"]) for e in third["rooms"][room_id]["required_state"]}


async def test_room_subscription_and_timeline_limit_growth(hs):
    alice = await hs.user("alice")
    rooms = [await hs.create_room(alice) for _ in range(3)]
    for i in range(5):
        await hs.send(alice, rooms[0], {"msgtype": "m.text", "body": f"old{i}"})
    for r in rooms[1:]:
        await hs.send(alice, r)
    body = all_rooms(limit=1, end=0)
    first = await ss(hs, alice, body)
    assert rooms[0] not in first["rooms"]  # outside the window
    sub = dict(body, room_subscriptions={rooms[0]: {"timeline_limit": 3, "required_state": [["m.room.create", ""]]}})
    second = await ss(hs, alice, sub, pos=first["pos"])
    assert set(second["rooms"]) == {rooms[0]}
    assert bodies(second["rooms"][rooms[0]]) == ["old2", "old3", "old4"]
    # The newest room, sent with one event, now subscribed with five: its timeline is sent again.
    grown = dict(body, room_subscriptions={rooms[2]: {"timeline_limit": 5}})
    third = await ss(hs, alice, grown, pos=second["pos"])
    assert len(third["rooms"][rooms[2]]["timeline"]) == 5
    # A subscription to a room the person is not in is ignored.
    other = await hs.create_room(await hs.user("mallory"))
    got = await ss(hs, alice, {"room_subscriptions": {other: {"timeline_limit": 5}}})
    assert other not in got["rooms"]


# -- counts, heroes --------------------------------------------------------------------------------

async def test_unread_and_highlight_counts_follow_receipts(hs):
    alice = await hs.user("alice", displayname="Alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room_id}", bob)
    first = await ss(hs, alice, all_rooms())
    await hs.send(bob, room_id, {"msgtype": "m.text", "body": "plain"})
    last = await hs.send(bob, room_id, {"msgtype": "m.text", "body": "hey Alice, look",
                                                    "m.mentions": {"user_ids": [alice.user_id]}})
    second = await ss(hs, alice, all_rooms(), pos=first["pos"])
    room = second["rooms"][room_id]
    assert room["notification_count"] == 2 and room["highlight_count"] == 1
    await hs.ok("POST", f"/rooms/{room_id}/receipt/m.read/{last}", alice, {})
    third = await ss(hs, alice, all_rooms(), pos=second["pos"])
    assert third["rooms"][room_id]["notification_count"] == 0
    assert third["rooms"][room_id]["highlight_count"] == 0


async def test_heroes_of_an_unnamed_room(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob", displayname="Bobby", avatar_url="mxc://hearth.test/bob")
    room_id = await hs.create_room(alice, preset="trusted_private_chat", invite=[bob.user_id], is_direct=True)
    await hs.ok("POST", f"/join/{room_id}", bob)
    room = (await ss(hs, alice, all_rooms()))["rooms"][room_id]
    assert "name" not in room
    assert room["heroes"] == [{"user_id": bob.user_id, "displayname": "Bobby", "avatar_url": "mxc://hearth.test/bob"}]
    assert room["joined_count"] == 2
    named = await hs.create_room(alice, name="Named")
    assert "heroes" not in (await ss(hs, alice, all_rooms()))["rooms"][named]


# -- extensions ------------------------------------------------------------------------------------

def _signed(user, device_signing, payload: dict) -> dict:
    from appliance.core.protocol.signing import sign_json
    return sign_json(payload, user.user_id, device_signing)


def _device_keys(user, device_signing) -> dict:
    from unpaddedbase64 import encode_base64
    return _signed(user, device_signing, {
        "user_id": user.user_id, "device_id": user.device_id,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {f"curve25519:{user.device_id}": encode_base64(b"c" * 32),
                 f"ed25519:{user.device_id}": device_signing.verify_key_base64}})


def _device_signing(user):
    import nacl.signing

    from appliance.core.protocol.signing import SigningKey
    return SigningKey(user.device_id, nacl.signing.SigningKey.generate())


ENCRYPTION = {"conn_id": "encryption", "extensions": {"to_device": {"enabled": True}, "e2ee": {"enabled": True}}}


async def test_to_device_extension_delivers_until_acknowledged_by_since(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    first = await ss(hs, bob, ENCRYPTION)
    assert first["extensions"]["to_device"]["events"] == []
    since = first["extensions"]["to_device"]["next_batch"]
    waiting = asyncio.create_task(ss(hs, bob, {**ENCRYPTION, "extensions": {
        "to_device": {"enabled": True, "since": since}, "e2ee": {"enabled": True}}}, pos=first["pos"], timeout=20000))
    await asyncio.sleep(0.2)
    await hs.ok("PUT", "/sendToDevice/m.test/t1", alice, {"messages": {bob.user_id: {bob.device_id: {"n": 1}}}})
    got = await asyncio.wait_for(waiting, 5)
    td = got["extensions"]["to_device"]
    assert [(e["type"], e["sender"], e["content"]) for e in td["events"]] == [("m.test", alice.user_id, {"n": 1})]
    # Not acknowledged (the old since): delivered again; acknowledged: gone.
    again = await ss(hs, bob, {**ENCRYPTION, "extensions": {"to_device": {"enabled": True, "since": since}}},
                     pos=got["pos"])
    assert len(again["extensions"]["to_device"]["events"]) == 1
    done = await ss(hs, bob, {**ENCRYPTION, "extensions": {"to_device": {"enabled": True, "since": td["next_batch"]}}},
                    pos=again["pos"])
    assert done["extensions"]["to_device"]["events"] == []


async def test_e2ee_extension_key_counts_fallback_and_device_lists(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room_id}", bob)
    signing = _device_signing(alice)
    await hs.ok("POST", "/keys/upload", alice, {
        "device_keys": _device_keys(alice, signing),
        "one_time_keys": {f"signed_curve25519:K{i}": _signed(alice, signing, {"key": f"k{i}"}) for i in range(3)},
        "fallback_keys": {"signed_curve25519:F": _signed(alice, signing, {"key": "f", "fallback": True})}})
    first = await ss(hs, alice, ENCRYPTION)
    e2ee = first["extensions"]["e2ee"]
    assert e2ee["device_one_time_keys_count"] == {"signed_curve25519": 3}
    assert e2ee["device_unused_fallback_key_types"] == ["signed_curve25519"]
    assert e2ee["device_lists"] == {"changed": [], "left": []}
    # Bob's new device keys: Alice shares a room with him, so he is in `changed` (and wakes her).
    waiting = asyncio.create_task(ss(hs, alice, ENCRYPTION, pos=first["pos"], timeout=20000))
    await asyncio.sleep(0.2)
    await hs.ok("POST", "/keys/upload", bob, {"device_keys": _device_keys(bob, _device_signing(bob))})
    got = await asyncio.wait_for(waiting, 5)
    assert bob.user_id in got["extensions"]["e2ee"]["device_lists"]["changed"]
    # Bob leaves: he is in `left`.
    await hs.ok("POST", f"/rooms/{room_id}/leave", bob)
    gone = await ss(hs, alice, ENCRYPTION, pos=got["pos"])
    assert bob.user_id in gone["extensions"]["e2ee"]["device_lists"]["left"]


async def test_account_data_extension(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice)
    await hs.ok("PUT", f"/user/{alice.user_id}/account_data/org.example.pref", alice, {"a": 1})
    await hs.ok("PUT", f"/user/{alice.user_id}/rooms/{room_id}/tags/u.work", alice, {"order": 0.5})
    body = {**all_rooms(), "extensions": {"account_data": {"enabled": True}}}
    first = await ss(hs, alice, body)
    ad = first["extensions"]["account_data"]
    types = {e["type"] for e in ad["global"]}
    assert {"org.example.pref", "m.push_rules"} <= types
    assert ad["rooms"][room_id] == [{"type": "m.tag", "content": {"tags": {"u.work": {"order": 0.5}}}}]
    waiting = asyncio.create_task(ss(hs, alice, body, pos=first["pos"], timeout=20000))
    await asyncio.sleep(0.2)
    await hs.ok("PUT", f"/user/{alice.user_id}/account_data/org.example.pref", alice, {"a": 2})
    got = await asyncio.wait_for(waiting, 5)
    assert got["extensions"]["account_data"]["global"] == [{"type": "org.example.pref", "content": {"a": 2}}]
    assert got["extensions"]["account_data"]["rooms"] == {}


async def test_receipts_and_typing_extensions(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room_id}", bob)
    event_id = await hs.send(alice, room_id)
    body = {**all_rooms(), "extensions": {"receipts": {"enabled": True, "rooms": ["*"]},
                                          "typing": {"enabled": True}}}
    first = await ss(hs, alice, body)
    assert first["extensions"]["receipts"] == {"rooms": {}} or room_id in first["extensions"]["receipts"]["rooms"]

    waiting = asyncio.create_task(ss(hs, alice, body, pos=first["pos"], timeout=20000))
    await asyncio.sleep(0.2)
    await hs.ok("POST", f"/rooms/{room_id}/receipt/m.read/{event_id}", bob, {})
    got = await asyncio.wait_for(waiting, 5)
    receipt = got["extensions"]["receipts"]["rooms"][room_id]
    assert receipt["type"] == "m.receipt"
    assert bob.user_id in receipt["content"][event_id]["m.read"]

    waiting = asyncio.create_task(ss(hs, alice, body, pos=got["pos"], timeout=20000))
    await asyncio.sleep(0.2)
    await hs.ok("PUT", f"/rooms/{room_id}/typing/{bob.user_id}", bob, {"typing": True, "timeout": 30000})
    typing = await asyncio.wait_for(waiting, 5)
    assert typing["extensions"]["typing"]["rooms"][room_id] == {"type": "m.typing",
                                                                "content": {"user_ids": [bob.user_id]}}
    await hs.ok("PUT", f"/rooms/{room_id}/typing/{bob.user_id}", bob, {"typing": False})
    stopped = await ss(hs, alice, body, pos=typing["pos"])
    assert stopped["extensions"]["typing"]["rooms"][room_id]["content"]["user_ids"] == []
    # A list the extension is not given covers nothing.
    only = {**all_rooms(), "extensions": {"typing": {"enabled": True, "lists": ["other"], "rooms": []}}}
    await hs.ok("PUT", f"/rooms/{room_id}/typing/{bob.user_id}", bob, {"typing": True, "timeout": 30000})
    assert (await ss(hs, alice, only))["extensions"]["typing"]["rooms"] == {}


async def test_bad_requests_are_spec_errors(hs):
    alice = await hs.user("alice")
    r = await hs.client.open(SS, method="POST", json={"lists": {"a": {"ranges": [[5, 1]]}}}, headers=alice.headers)
    assert r.status_code == 400 and (await r.get_json())["errcode"] in ("M_BAD_JSON", "M_INVALID_PARAM")
    r = await hs.client.open(SS, method="POST", json={"lists": {"a": {"ranges": "x"}}}, headers=alice.headers)
    assert r.status_code == 400
    r = await hs.client.open(SS, method="POST", json={"room_subscriptions": {"!x:y": {"required_state": [["a"]]}}},
                             headers=alice.headers)
    assert r.status_code == 400
    r = await hs.client.open(SS, method="POST", json={})
    assert r.status_code == 401 and (await r.get_json())["errcode"] == "M_MISSING_TOKEN"
    got = await ss(hs, alice, {"txn_id": "abc", "extensions": {"org.example.unknown": {"enabled": True}}})
    assert got["txn_id"] == "abc" and got["pos"]


# -- a person in 500 rooms --------------------------------------------------------------------------

async def test_five_hundred_rooms_top_twenty(hs):
    """The first answer lists 500 rooms and sends the newest 20; a message in the oldest room
    costs the next answer one room, and moves it to the top."""
    alice = await hs.user("alice")
    hearth = hs.hearth
    rooms = []
    for i in range(500):
        rooms.append((await hearth.rooms.creation.create_room(alice.user_id, _create_request(f"room {i}"))))
    body = all_rooms(limit=1, end=19)
    t0 = time.monotonic()
    first = await ss(hs, alice, body)
    first_s = time.monotonic() - t0
    assert first["lists"]["all"]["count"] == 500
    assert set(first["rooms"]) == set(rooms[-20:])
    assert all(r["initial"] for r in first["rooms"].values())

    await hs.send(alice, rooms[0], {"msgtype": "m.text", "body": "oldest speaks"})
    t0 = time.monotonic()
    second = await ss(hs, alice, body, pos=first["pos"])
    incremental_s = time.monotonic() - t0
    assert set(second["rooms"]) == {rooms[0]}
    assert bodies(second["rooms"][rooms[0]]) == ["oldest speaks"]
    t0 = time.monotonic()
    third = await ss(hs, alice, body, pos=second["pos"])
    idle_s = time.monotonic() - t0
    assert third["rooms"] == {}
    print(f"500 rooms: first {first_s * 1000:.1f} ms, after one message {incremental_s * 1000:.1f} ms,"
          f" nothing new {idle_s * 1000:.1f} ms")
    assert incremental_s < first_s and idle_s < first_s


def _create_request(name: str):
    from appliance.core.services.rooms.create import CreateRoomRequest
    return CreateRoomRequest(name=name)


async def test_knocked_room_is_listed_with_its_stripped_state(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, name="Knock knock")
    await hs.ok("PUT", f"/rooms/{room_id}/state/m.room.join_rules", alice, {"join_rule": "knock"})
    await hs.ok("POST", f"/knock/{room_id}", bob, {})
    got = await ss(hs, bob, all_rooms())
    room = got["rooms"][room_id]
    mine = [e for e in room["invite_state"] if e["type"] == "m.room.member" and e["state_key"] == bob.user_id]
    assert mine and mine[0]["content"]["membership"] == "knock"
    assert room["name"] == "Knock knock" and "timeline" not in room


async def test_an_incremental_answer_reads_as_much_for_100_rooms_as_for_5(hs, monkeypatch):
    """The database reads (queries, and rows they return) of a request after one message do not
    grow with the rooms a person is in."""
    db = hs.hearth.core.db
    reads: list[int] = []  # rows returned by each query
    for name in ("fetchall", "fetchone", "fetchval"):
        real = getattr(db, name)

        async def counted(sql, params=(), _real=real):
            got = await _real(sql, params)
            reads.append(len(got) if isinstance(got, list) else 1)
            return got
        monkeypatch.setattr(db, name, counted)

    async def reads_after_one_message(user, n: int) -> int:
        rooms = [await hs.hearth.rooms.creation.create_room(user.user_id, _create_request(f"r{i}")) for i in range(n)]
        body = all_rooms(limit=1, end=19)
        first = await ss(hs, user, body)
        await hs.send(user, rooms[0], {"msgtype": "m.text", "body": "hi"})
        warm = await ss(hs, user, body, pos=first["pos"])
        await hs.send(user, rooms[-1], {"msgtype": "m.text", "body": "hi"})  # in the window either way
        # The push evaluator runs beside: let it catch up, or the unread counts read its backlog.
        await hs.hearth.push.service.catch_up(hs.hearth.core.stream.current)
        reads.clear()
        got = await ss(hs, user, body, pos=warm["pos"])
        assert list(got["rooms"]) == [rooms[-1]]
        return len(reads), sum(reads)

    few = await reads_after_one_message(await hs.user("few"), 5)
    many = await reads_after_one_message(await hs.user("many"), 100)
    assert many == few, (few, many)


async def test_invites_held_while_blocking_invites_or_from_ignored_users_are_not_listed(hs):
    alice = await hs.user("alice")
    mallory = await hs.user("mallory")
    bob = await hs.user("bob")
    from_alice = await hs.create_room(alice, invite=[bob.user_id])
    from_mallory = await hs.create_room(mallory, invite=[bob.user_id])
    first = await ss(hs, bob, all_rooms())
    assert first["lists"]["all"]["count"] == 2
    await hs.ok("PUT", f"/user/{bob.user_id}/account_data/m.ignored_user_list", bob,
                {"ignored_users": {mallory.user_id: {}}})
    second = await ss(hs, bob, all_rooms(), pos=first["pos"])
    assert second["lists"]["all"]["count"] == 1
    fresh = await ss(hs, bob, {**all_rooms(), "conn_id": "other",
                               "room_subscriptions": {from_mallory: {"timeline_limit": 1}}})
    assert set(fresh["rooms"]) == {from_alice} and fresh["lists"]["all"]["count"] == 1
    await hs.ok("PUT", f"/user/{bob.user_id}/account_data/m.invite_permission_config", bob,
                {"default_action": "block"})
    third = await ss(hs, bob, all_rooms(), pos=second["pos"])
    assert third["lists"]["all"]["count"] == 0
    assert (await ss(hs, bob, {**all_rooms(), "conn_id": "other"}))["lists"]["all"]["count"] == 0
    await hs.ok("PUT", f"/user/{bob.user_id}/account_data/m.invite_permission_config", bob, {})
    again = await ss(hs, bob, all_rooms(), pos=third["pos"])
    assert again["lists"]["all"]["count"] == 1 and from_alice in again["rooms"]
