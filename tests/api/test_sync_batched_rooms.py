"""/sync builds all joined rooms together (timelines, state, client forms and summaries read for
every room at once, client forms cached): each room must still get exactly its own answer, and
the cached client forms must follow redactions and never leak one device's transaction_id."""
from __future__ import annotations

import json


async def sync(hs, user, **params) -> dict:
    q = "&".join(f"{k}={v}" for k, v in params.items())
    return await hs.ok("GET", "/sync" + (f"?{q}" if q else ""), user)


def bodies(events: list[dict]) -> list[str]:
    return [e["content"].get("body") for e in events if e["type"] == "m.room.message"]


async def test_redaction_after_a_sync_shows_on_the_next_initial_sync(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    eid = await hs.send(alice, room, {"msgtype": "m.text", "body": "oops"})
    before = (await sync(hs, alice))["rooms"]["join"][room]
    ev = next(e for e in before["timeline"]["events"] if e["event_id"] == eid)
    assert ev["content"]["body"] == "oops" and "redacted_because" not in ev["unsigned"]
    token = (await sync(hs, alice))["next_batch"]

    red = await hs.ok("PUT", f"/rooms/{room}/redact/{eid}/r1", alice, {"reason": "typo"})
    other_device = await hs.user("alice")
    after = (await sync(hs, other_device))["rooms"]["join"][room]
    ev = next(e for e in after["timeline"]["events"] if e["event_id"] == eid)
    assert ev["content"] == {}
    assert ev["unsigned"]["redacted_because"]["event_id"] == red["event_id"]
    # The same device again, and an incremental sync: the redaction arrives, the original stays redacted.
    again = (await sync(hs, alice))["rooms"]["join"][room]
    assert next(e for e in again["timeline"]["events"] if e["event_id"] == eid)["content"] == {}
    inc = (await sync(hs, alice, since=token))["rooms"]["join"][room]
    assert [e["event_id"] for e in inc["timeline"]["events"]] == [red["event_id"]]
    page = await hs.ok("GET", f"/rooms/{room}/messages?dir=b&limit=10", alice)
    assert next(e for e in page["chunk"] if e["event_id"] == eid)["content"] == {}


async def test_transaction_id_only_for_the_sending_device(hs):
    alice = await hs.user("alice")
    phone = await hs.user("alice")
    room = await hs.create_room(alice)
    body = await hs.ok("PUT", f"/rooms/{room}/send/m.room.message/my-txn", alice, {"msgtype": "m.text", "body": "hi"})
    eid = body["event_id"]
    for user, expected in ((alice, "my-txn"), (phone, None), (alice, "my-txn"), (phone, None)):
        joined = (await sync(hs, user))["rooms"]["join"][room]
        ev = next(e for e in joined["timeline"]["events"] if e["event_id"] == eid)
        assert ev["unsigned"].get("transaction_id") == expected
        assert ev["unsigned"]["age"] >= 0 and "room_id" not in ev
    single = await hs.ok("GET", f"/rooms/{room}/event/{eid}", phone)
    assert single["room_id"] == room and "transaction_id" not in single["unsigned"]


async def test_each_room_gets_its_own_timeline_state_and_summary(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    carol = await hs.user("carol")
    busy = await hs.create_room(alice, preset="public_chat", name="busy")
    quiet = await hs.create_room(alice, name="quiet")
    shared = await hs.create_room(alice, preset="public_chat", name="shared")
    await hs.ok("POST", f"/join/{busy}", bob)
    await hs.ok("POST", f"/rooms/{shared}/invite", alice, {"user_id": carol.user_id})
    for i in range(15):
        await hs.send(bob, busy, {"msgtype": "m.text", "body": f"busy {i}"})
    await hs.send(alice, quiet, {"msgtype": "m.text", "body": "quiet 0"})
    await hs.send(alice, shared, {"msgtype": "m.text", "body": "shared 0"})

    join = (await sync(hs, alice))["rooms"]["join"]
    assert bodies(join[busy]["timeline"]["events"]) == [f"busy {i}" for i in range(5, 15)]
    assert join[busy]["timeline"]["limited"] is True
    assert bodies(join[quiet]["timeline"]["events"]) == ["quiet 0"]
    assert join[quiet]["timeline"]["limited"] is False
    assert bodies(join[shared]["timeline"]["events"]) == ["shared 0"]
    names = {}
    for room_id, room in join.items():
        for e in room["state"]["events"] + room["timeline"]["events"]:
            if e["type"] == "m.room.name":
                names[room_id] = e["content"]["name"]
    assert names == {busy: "busy", quiet: "quiet", shared: "shared"}
    # Everything in the busy room's state is from before its timeline, and all of it is that room's.
    busy_state = {(e["type"], e["state_key"]) for e in join[busy]["state"]["events"]}
    assert ("m.room.member", bob.user_id) in busy_state and ("m.room.create", "") in busy_state
    assert join[busy]["summary"] == {"m.heroes": [bob.user_id], "m.joined_member_count": 2,
                                     "m.invited_member_count": 0}
    assert join[quiet]["summary"] == {"m.heroes": [], "m.joined_member_count": 1, "m.invited_member_count": 0}
    assert join[shared]["summary"] == {"m.heroes": [carol.user_id], "m.joined_member_count": 1,
                                       "m.invited_member_count": 1}
    # Pagination from each room's prev_batch continues that room's history.
    prev = join[busy]["timeline"]["prev_batch"]
    page = await hs.ok("GET", f"/rooms/{busy}/messages?dir=b&limit=5&from={prev}", alice)
    assert bodies(page["chunk"]) == [f"busy {i}" for i in range(4, -1, -1)]


async def test_restrictive_timeline_filter_reads_past_the_first_batch(hs):
    alice = await hs.user("alice")
    rooms = [await hs.create_room(alice) for _ in range(2)]
    await hs.ok("PUT", f"/rooms/{rooms[0]}/state/m.room.topic/", alice, {"topic": "old news"})
    for room in rooms:
        for i in range(30):
            await hs.send(alice, room, {"msgtype": "m.text", "body": f"m{i}"})
    flt = json.dumps({"room": {"timeline": {"limit": 1, "types": ["m.room.topic"]}}})
    join = (await sync(hs, alice, filter=flt))["rooms"]["join"]
    assert [e["content"]["topic"] for e in join[rooms[0]]["timeline"]["events"]] == ["old news"]
    assert join[rooms[1]]["timeline"]["events"] == []


async def test_incremental_state_delta_per_room(hs):
    alice = await hs.user("alice")
    changed = await hs.create_room(alice)
    unchanged = await hs.create_room(alice)
    flt = json.dumps({"room": {"timeline": {"limit": 3}}})
    token = (await sync(hs, alice, filter=flt))["next_batch"]
    await hs.ok("PUT", f"/rooms/{changed}/state/m.room.topic/", alice, {"topic": "new"})
    for room in (changed, unchanged):
        for i in range(5):
            await hs.send(alice, room, {"msgtype": "m.text", "body": f"n{i}"})
    join = (await sync(hs, alice, filter=flt, since=token))["rooms"]["join"]
    assert join[changed]["timeline"]["limited"] is True
    assert [(e["type"], e["content"]) for e in join[changed]["state"]["events"]] == [("m.room.topic", {"topic": "new"})]
    assert join[unchanged]["state"]["events"] == []
    assert bodies(join[unchanged]["timeline"]["events"]) == ["n2", "n3", "n4"]
    assert "m.heroes" not in join[changed]["summary"]


async def test_heroes_fall_back_to_members_who_left(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    carol = await hs.user("carol")
    left = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{left}", bob)
    await hs.ok("POST", f"/rooms/{left}/leave", bob, {})
    mixed = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{mixed}", bob)
    await hs.ok("POST", f"/rooms/{mixed}/leave", bob, {})
    await hs.ok("POST", f"/join/{mixed}", carol)
    join = (await sync(hs, alice))["rooms"]["join"]
    assert join[left]["summary"] == {"m.heroes": [bob.user_id], "m.joined_member_count": 1,
                                     "m.invited_member_count": 0}
    assert join[mixed]["summary"]["m.heroes"] == [carol.user_id]
