"""/sync: initial and incremental syncs, long-polling, limited timelines and /messages."""
from __future__ import annotations

import asyncio
import json
import time


async def sync(hs, user, **params) -> dict:
    q = "&".join(f"{k}={v}" for k, v in params.items())
    return await hs.ok("GET", "/sync" + (f"?{q}" if q else ""), user)


def timeline_bodies(room: dict) -> list[str]:
    return [e["content"].get("body") for e in room["timeline"]["events"] if e["type"] == "m.room.message"]


async def test_initial_sync_shows_joined_room(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice, name="Kitchen")
    await hs.send(alice, room, {"msgtype": "m.text", "body": "hi"})
    body = await sync(hs, alice)
    for key in ("to_device", "device_lists", "device_one_time_keys_count", "presence", "account_data"):
        assert key in body
    assert body["next_batch"].startswith("s")
    joined = body["rooms"]["join"][room]
    assert timeline_bodies(joined) == ["hi"]
    state_types = {e["type"] for e in joined["state"]["events"]} | {
        e["type"] for e in joined["timeline"]["events"] if "state_key" in e}
    assert {"m.room.create", "m.room.member", "m.room.name"} <= state_types
    assert all("room_id" not in e for e in joined["timeline"]["events"])
    assert joined["summary"]["m.joined_member_count"] == 1
    assert "unread_notifications" in joined


async def test_transaction_id_only_for_sending_device(hs):
    alice = await hs.user("alice")
    other_device = await hs.user("alice")
    room = await hs.create_room(alice)
    status, sent = await hs.call("PUT", f"/rooms/{room}/send/m.room.message/txn42", alice,
                                 {"msgtype": "m.text", "body": "x"})
    assert status == 200
    mine = (await sync(hs, alice))["rooms"]["join"][room]["timeline"]["events"]
    ev = next(e for e in mine if e["event_id"] == sent["event_id"])
    assert ev["unsigned"]["transaction_id"] == "txn42"
    assert "age" in ev["unsigned"]
    theirs = (await sync(hs, other_device))["rooms"]["join"][room]["timeline"]["events"]
    ev = next(e for e in theirs if e["event_id"] == sent["event_id"])
    assert "transaction_id" not in ev["unsigned"]


async def test_incremental_sync_only_new_events(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    first = await sync(hs, alice)
    await hs.send(alice, room, {"msgtype": "m.text", "body": "one"})
    second = await sync(hs, alice, since=first["next_batch"])
    joined = second["rooms"]["join"][room]
    assert timeline_bodies(joined) == ["one"]
    assert joined["timeline"]["limited"] is False
    assert joined["state"]["events"] == []
    third = await sync(hs, alice, since=second["next_batch"])
    assert room not in third["rooms"]["join"]


async def test_incremental_state_change_and_prev_content(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice, name="Old")
    first = await sync(hs, alice)
    await hs.ok("PUT", f"/rooms/{room}/state/m.room.name", alice, {"name": "New"})
    second = await sync(hs, alice, since=first["next_batch"])
    ev = next(e for e in second["rooms"]["join"][room]["timeline"]["events"] if e["type"] == "m.room.name")
    assert ev["content"] == {"name": "New"}
    assert ev["unsigned"]["prev_content"] == {"name": "Old"}
    assert ev["unsigned"]["replaces_state"]


async def test_long_poll_wakes_on_other_users_message(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room}", bob)
    token = (await sync(hs, alice))["next_batch"]

    async def later():
        await asyncio.sleep(0.3)
        await hs.send(bob, room, {"msgtype": "m.text", "body": "wake up"})

    task = asyncio.create_task(later())
    started = time.monotonic()
    body = await sync(hs, alice, since=token, timeout=10000)
    elapsed = time.monotonic() - started
    await task
    assert elapsed < 3, elapsed
    assert timeline_bodies(body["rooms"]["join"][room]) == ["wake up"]


async def test_long_poll_times_out_empty(hs):
    alice = await hs.user("alice")
    await hs.create_room(alice)
    token = (await sync(hs, alice))["next_batch"]
    started = time.monotonic()
    body = await sync(hs, alice, since=token, timeout=300)
    assert 0.25 <= time.monotonic() - started < 3
    assert body["rooms"]["join"] == {}
    assert body["next_batch"]


async def test_limited_timeline_then_messages_back_pagination(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    sent = [f"m{i}" for i in range(12)]
    for b in sent:
        await hs.send(alice, room, {"msgtype": "m.text", "body": b})
    flt = json.dumps({"room": {"timeline": {"limit": 5}}})
    body = await hs.ok("GET", f"/sync?filter={flt}", alice)
    joined = body["rooms"]["join"][room]
    assert joined["timeline"]["limited"] is True
    assert timeline_bodies(joined) == sent[-5:]
    seen = timeline_bodies(joined)
    token = joined["timeline"]["prev_batch"]
    while token:
        page = await hs.ok("GET", f"/rooms/{room}/messages?dir=b&limit=3&from={token}", alice)
        seen = [e["content"]["body"] for e in reversed(page["chunk"]) if e["type"] == "m.room.message"] + seen
        token = page.get("end")
    assert seen == sent


async def test_incremental_limited_gap(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    flt = json.dumps({"room": {"timeline": {"limit": 2}}})
    token = (await hs.ok("GET", f"/sync?filter={flt}", alice))["next_batch"]
    for i in range(5):
        await hs.send(alice, room, {"msgtype": "m.text", "body": f"n{i}"})
    body = await hs.ok("GET", f"/sync?filter={flt}&since={token}", alice)
    tl = body["rooms"]["join"][room]["timeline"]
    assert tl["limited"] is True
    assert [e["content"]["body"] for e in tl["events"]] == ["n3", "n4"]
    page = await hs.ok("GET", f"/rooms/{room}/messages?dir=b&limit=10&from={tl['prev_batch']}&to={token}", alice)
    assert [e["content"]["body"] for e in page["chunk"]] == ["n2", "n1", "n0"]
    assert "end" not in page


async def test_messages_forward_and_without_from(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    for i in range(3):
        await hs.send(alice, room, {"msgtype": "m.text", "body": f"f{i}"})
    page = await hs.ok("GET", f"/rooms/{room}/messages?dir=b&limit=2", alice)
    assert [e["content"]["body"] for e in page["chunk"]] == ["f2", "f1"]
    assert all(e["room_id"] == room for e in page["chunk"])
    fwd = await hs.ok("GET", f"/rooms/{room}/messages?dir=f&limit=100", alice)
    assert fwd["chunk"][0]["type"] == "m.room.create"
    assert [e["content"]["body"] for e in fwd["chunk"] if e["type"] == "m.room.message"] == ["f0", "f1", "f2"]
    assert "end" not in fwd
    await hs.error("GET", f"/rooms/{room}/messages?dir=x", alice, None, "M_INVALID_PARAM", 400)
    await hs.error("GET", f"/rooms/{room}/messages?dir=b&from=garbage", alice, None, "M_INVALID_PARAM", 400)
    outsider = await hs.user("eve")
    await hs.error("GET", f"/rooms/{room}/messages?dir=b", outsider, None, "M_FORBIDDEN", 403)


async def test_messages_filter_types_and_lazy_members(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room}", bob)
    await hs.send(bob, room, {"msgtype": "m.text", "body": "from bob"})
    await hs.send(alice, room, {"k": 1}, event_type="org.example.custom")
    flt = json.dumps({"types": ["m.room.message"], "lazy_load_members": True})
    page = await hs.ok("GET", f"/rooms/{room}/messages?dir=b&filter={flt}", alice)
    assert [e["type"] for e in page["chunk"]] == ["m.room.message"]
    assert [(e["type"], e["state_key"]) for e in page["state"]] == [("m.room.member", bob.user_id)]
    await hs.error("GET", f"/rooms/{room}/messages?dir=b&filter=notjson", alice, None, "M_INVALID_PARAM", 400)


async def test_invalid_since_and_filter(hs):
    alice = await hs.user("alice")
    await hs.error("GET", "/sync?since=nope", alice, None, "M_INVALID_PARAM", 400)
    await hs.error("GET", "/sync?filter={bad", alice, None, "M_INVALID_PARAM", 400)
    await hs.error("GET", "/sync?filter=12345", alice, None, "M_NOT_FOUND", 404)
