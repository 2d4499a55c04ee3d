"""/sync room sections: invites, leaves, history visibility, lazy members, redactions, ignoring."""
from __future__ import annotations

import json


async def sync(hs, user, **params) -> dict:
    q = "&".join(f"{k}={v}" for k, v in params.items())
    return await hs.ok("GET", "/sync" + (f"?{q}" if q else ""), user)


def bodies(events: list[dict]) -> list[str]:
    return [e["content"].get("body") for e in events if e["type"] == "m.room.message"]


async def visibility_room(hs, owner, value: str) -> str:
    return await hs.create_room(owner, preset="public_chat", initial_state=[
        {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": value}}])


async def test_invite_appears_with_stripped_state(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice, name="Secret plans")
    token = (await sync(hs, bob))["next_batch"]
    await hs.ok("POST", f"/rooms/{room}/invite", alice, {"user_id": bob.user_id})
    body = await sync(hs, bob, since=token)
    invite = body["rooms"]["invite"][room]
    stripped = {(e["type"], e["state_key"]): e for e in invite["invite_state"]["events"]}
    assert stripped[("m.room.name", "")]["content"] == {"name": "Secret plans"}
    assert stripped[("m.room.member", bob.user_id)]["content"]["membership"] == "invite"
    assert stripped[("m.room.member", bob.user_id)]["sender"] == alice.user_id
    assert room not in body["rooms"]["join"]
    # Joining moves the room to rooms.join with full state.
    await hs.ok("POST", f"/join/{room}", bob)
    after = await sync(hs, bob, since=body["next_batch"])
    joined = after["rooms"]["join"][room]
    types = {e["type"] for e in joined["state"]["events"] + joined["timeline"]["events"]}
    assert {"m.room.create", "m.room.name"} <= types


async def test_invite_long_poll_wakes(hs):
    import asyncio
    import time

    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice)
    token = (await sync(hs, bob))["next_batch"]

    async def later():
        await asyncio.sleep(0.2)
        await hs.ok("POST", f"/rooms/{room}/invite", alice, {"user_id": bob.user_id})

    task = asyncio.create_task(later())
    t0 = time.monotonic()
    body = await sync(hs, bob, since=token, timeout=10000)
    await task
    assert time.monotonic() - t0 < 3
    assert room in body["rooms"]["invite"]


async def test_leave_section(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room}", bob)
    token = (await sync(hs, bob))["next_batch"]
    await hs.send(alice, room, {"msgtype": "m.text", "body": "before leaving"})
    await hs.ok("POST", f"/rooms/{room}/leave", bob, {})
    await hs.send(alice, room, {"msgtype": "m.text", "body": "after leaving"})
    body = await sync(hs, bob, since=token)
    left = body["rooms"]["leave"][room]
    assert bodies(left["timeline"]["events"]) == ["before leaving"]
    assert left["timeline"]["events"][-1]["type"] == "m.room.member"
    assert left["timeline"]["events"][-1]["content"]["membership"] == "leave"
    assert room not in body["rooms"]["join"]
    # An initial sync shows left rooms only with include_leave.
    assert room not in (await sync(hs, bob))["rooms"]["leave"]
    flt = json.dumps({"room": {"include_leave": True}})
    assert room in (await sync(hs, bob, filter=flt))["rooms"]["leave"]
    # Messages after the leave stay hidden from /messages too.
    page = await hs.ok("GET", f"/rooms/{room}/messages?dir=b&limit=50", bob)
    assert "after leaving" not in bodies(page["chunk"])
    assert "before leaving" in bodies(page["chunk"])


async def test_history_visibility_joined_hides_earlier_messages(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await visibility_room(hs, alice, "joined")
    await hs.send(alice, room, {"msgtype": "m.text", "body": "private past"})
    await hs.ok("POST", f"/join/{room}", bob)
    await hs.send(alice, room, {"msgtype": "m.text", "body": "welcome"})
    joined = (await sync(hs, bob))["rooms"]["join"][room]
    assert bodies(joined["timeline"]["events"]) == ["welcome"]
    page = await hs.ok("GET", f"/rooms/{room}/messages?dir=b&limit=50", bob)
    assert bodies(page["chunk"]) == ["welcome"]
    early = next(e for e in (await hs.ok("GET", f"/rooms/{room}/messages?dir=b&limit=50", alice))["chunk"]
                 if e.get("content", {}).get("body") == "private past")
    await hs.error("GET", f"/rooms/{room}/event/{early['event_id']}", bob, None, "M_NOT_FOUND", 404)


async def test_history_visibility_shared_shows_earlier_messages(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await visibility_room(hs, alice, "shared")
    await hs.send(alice, room, {"msgtype": "m.text", "body": "shared past"})
    await hs.ok("POST", f"/join/{room}", bob)
    joined = (await sync(hs, bob))["rooms"]["join"][room]
    assert "shared past" in bodies(joined["timeline"]["events"])


async def test_history_visibility_shared_stays_readable_after_leaving(hs):
    """Rule 3: shared history is visible to whoever joined at any point after it, so someone
    who joined late and left still reads what came before their join (up to their leave, not
    after it); someone only invited does not."""
    alice, bob, carol = await hs.user("alice"), await hs.user("bob"), await hs.user("carol")
    room = await visibility_room(hs, alice, "shared")
    await hs.send(alice, room, {"msgtype": "m.text", "body": "before bob"})
    await hs.ok("POST", f"/join/{room}", bob)
    await hs.send(alice, room, {"msgtype": "m.text", "body": "with bob"})
    await hs.ok("POST", f"/rooms/{room}/leave", bob, {})
    await hs.send(alice, room, {"msgtype": "m.text", "body": "after bob"})
    page = await hs.ok("GET", f"/rooms/{room}/messages?dir=b&limit=50", bob)
    assert [b for b in bodies(page["chunk"])] == ["with bob", "before bob"]
    early = next(e for e in (await hs.ok("GET", f"/rooms/{room}/messages?dir=b&limit=50", alice))["chunk"]
                 if e.get("content", {}).get("body") == "before bob")
    await hs.ok("GET", f"/rooms/{room}/event/{early['event_id']}", bob)
    await hs.ok("POST", f"/rooms/{room}/invite", alice, {"user_id": carol.user_id})
    await hs.error("GET", f"/rooms/{room}/event/{early['event_id']}", carol, None, "M_NOT_FOUND", 404)


async def test_world_readable_room_readable_by_non_member(hs):
    alice = await hs.user("alice")
    eve = await hs.user("eve")
    room = await visibility_room(hs, alice, "world_readable")
    await hs.send(alice, room, {"msgtype": "m.text", "body": "for everyone"})
    page = await hs.ok("GET", f"/rooms/{room}/messages?dir=b", eve)
    assert bodies(page["chunk"]) == ["for everyone"]
    assert room not in (await sync(hs, eve))["rooms"]["join"]


async def test_lazy_loaded_members(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    carol = await hs.user("carol")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room}", bob)
    await hs.ok("POST", f"/join/{room}", carol)
    for i in range(3):
        await hs.send(bob, room, {"msgtype": "m.text", "body": f"b{i}"})
    flt = json.dumps({"room": {"timeline": {"limit": 3}, "state": {"lazy_load_members": True}}})
    joined = (await sync(hs, alice, filter=flt))["rooms"]["join"][room]
    members = {e["state_key"] for e in joined["state"]["events"] if e["type"] == "m.room.member"}
    assert members == {bob.user_id, alice.user_id}
    assert joined["summary"]["m.joined_member_count"] == 3
    assert set(joined["summary"]["m.heroes"]) == {bob.user_id, carol.user_id}
    # Without lazy loading every member is there.
    full = (await sync(hs, alice))["rooms"]["join"][room]
    members = {e["state_key"] for e in full["state"]["events"] + full["timeline"]["events"]
               if e["type"] == "m.room.member"}
    assert members == {alice.user_id, bob.user_id, carol.user_id}


async def test_lazy_members_not_repeated_unless_redundant(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room}", bob)
    await hs.send(bob, room, {"msgtype": "m.text", "body": "one"})
    flt = json.dumps({"room": {"timeline": {"limit": 1}, "state": {"lazy_load_members": True}}})
    first = await sync(hs, alice, filter=flt)
    assert bob.user_id in {e["state_key"] for e in first["rooms"]["join"][room]["state"]["events"]}
    await hs.send(bob, room, {"msgtype": "m.text", "body": "two"})
    second = await sync(hs, alice, filter=flt, since=first["next_batch"])
    assert second["rooms"]["join"][room]["state"]["events"] == []
    redundant = json.dumps({"room": {"timeline": {"limit": 1}, "state": {
        "lazy_load_members": True, "include_redundant_members": True}}})
    await hs.send(bob, room, {"msgtype": "m.text", "body": "three"})
    third = await sync(hs, alice, filter=redundant, since=second["next_batch"])
    assert bob.user_id in {e["state_key"] for e in third["rooms"]["join"][room]["state"]["events"]}


async def test_redacted_event_served_redacted(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    eid = await hs.send(alice, room, {"msgtype": "m.text", "body": "oops"})
    red = await hs.ok("PUT", f"/rooms/{room}/redact/{eid}/r1", alice, {"reason": "typo"})
    joined = (await sync(hs, alice))["rooms"]["join"][room]
    ev = next(e for e in joined["timeline"]["events"] if e["event_id"] == eid)
    assert ev["content"] == {}
    assert ev["unsigned"]["redacted_because"]["event_id"] == red["event_id"]
    single = await hs.ok("GET", f"/rooms/{room}/event/{eid}", alice)
    assert single["content"] == {} and single["unsigned"]["redacted_because"]["content"]["reason"] == "typo"


async def test_ignored_users_hidden(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room}", bob)
    await hs.ok("PUT", f"/user/{alice.user_id}/account_data/m.ignored_user_list", alice,
                {"ignored_users": {bob.user_id: {}}})
    token = (await sync(hs, alice))["next_batch"]
    await hs.send(bob, room, {"msgtype": "m.text", "body": "spam"})
    await hs.send(alice, room, {"msgtype": "m.text", "body": "mine"})
    body = await sync(hs, alice, since=token)
    assert bodies(body["rooms"]["join"][room]["timeline"]["events"]) == ["mine"]
    page = await hs.ok("GET", f"/rooms/{room}/messages?dir=b&limit=50", alice)
    assert "spam" not in bodies(page["chunk"])
    # Invites from ignored users are dropped.
    room2 = await hs.create_room(bob)
    await hs.ok("POST", f"/rooms/{room2}/invite", bob, {"user_id": alice.user_id})
    assert room2 not in (await sync(hs, alice))["rooms"]["invite"]


async def test_timeline_filters(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    other = await hs.create_room(alice)
    await hs.send(alice, room, {"msgtype": "m.text", "body": "keep"})
    await hs.send(alice, room, {"x": 1}, event_type="org.example.drop")
    flt = json.dumps({"room": {"rooms": [room], "timeline": {"not_types": ["org.example.*"]},
                               "state": {"types": ["m.room.create"]}}})
    body = await sync(hs, alice, filter=flt)
    assert other not in body["rooms"]["join"]
    joined = body["rooms"]["join"][room]
    assert all(not e["type"].startswith("org.example") for e in joined["timeline"]["events"])
    assert {e["type"] for e in joined["state"]["events"]} <= {"m.room.create"}
    # A stored filter by ID, with event_fields.
    fid = (await hs.ok("POST", f"/user/{alice.user_id}/filter", alice, {
        "event_fields": ["type", "content.body"], "room": {"timeline": {"types": ["m.room.message"]}}}))["filter_id"]
    assert (await hs.ok("GET", f"/user/{alice.user_id}/filter/{fid}", alice))["event_fields"] == [
        "type", "content.body"]
    body = await sync(hs, alice, filter=fid)
    assert body["rooms"]["join"][room]["timeline"]["events"] == [{"type": "m.room.message",
                                                                   "content": {"body": "keep"}}]


async def test_full_state_and_state_after(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice, name="R")
    token = (await sync(hs, alice))["next_batch"]
    await hs.send(alice, room, {"msgtype": "m.text", "body": "x"})
    body = await sync(hs, alice, since=token, full_state="true")
    types = {e["type"] for e in body["rooms"]["join"][room]["state"]["events"]}
    assert {"m.room.create", "m.room.name", "m.room.power_levels"} <= types
    await hs.ok("PUT", f"/rooms/{room}/state/m.room.topic", alice, {"topic": "T"})
    body2 = await sync(hs, alice, since=body["next_batch"], use_state_after="true")
    room_body = body2["rooms"]["join"][room]
    assert "state" not in room_body
    assert [e["type"] for e in room_body["state_after"]["events"]] == ["m.room.topic"]


async def test_knock_appears_with_knock_state(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice, name="Club", initial_state=[
        {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}])
    token = (await sync(hs, bob))["next_batch"]
    await hs.ok("POST", f"/knock/{room}", bob, {"reason": "let me in"})
    body = await sync(hs, bob, since=token)
    knock = body["rooms"]["knock"][room]
    stripped = {(e["type"], e["state_key"]): e["content"] for e in knock["knock_state"]["events"]}
    assert stripped[("m.room.name", "")] == {"name": "Club"}
    assert stripped[("m.room.member", bob.user_id)]["membership"] == "knock"
    assert room not in body["rooms"]["join"] and room not in body["rooms"]["invite"]


async def test_guest_peeks_world_readable_room(hs):
    alice = await hs.user("alice")
    guest = await hs.user("guest1", is_guest=True)
    room = await visibility_room(hs, alice, "world_readable")
    await hs.send(alice, room, {"msgtype": "m.text", "body": "public notice"})
    page = await hs.ok("GET", f"/rooms/{room}/messages?dir=b", guest)
    assert bodies(page["chunk"]) == ["public notice"]
    assert (await hs.ok("GET", f"/rooms/{room}/state/m.room.history_visibility", guest)) == {
        "history_visibility": "world_readable"}
