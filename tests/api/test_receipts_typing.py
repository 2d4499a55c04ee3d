"""Receipts, read markers and typing, and how they show in /sync's ephemeral section."""
from __future__ import annotations

import asyncio
import time


async def sync(hs, user, **params) -> dict:
    q = "&".join(f"{k}={v}" for k, v in params.items())
    return await hs.ok("GET", "/sync" + (f"?{q}" if q else ""), user)


def ephemeral(body: dict, room: str, type_: str) -> dict | None:
    for e in body["rooms"]["join"].get(room, {}).get("ephemeral", {}).get("events", []):
        if e["type"] == type_:
            return e["content"]
    return None


async def two_in_room(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room}", bob)
    return alice, bob, room


async def test_read_receipt_in_sync_and_unread_counts(hs):
    alice, bob, room = await two_in_room(hs)
    e1 = await hs.send(alice, room, {"msgtype": "m.text", "body": "1"})
    await hs.send(alice, room, {"msgtype": "m.text", "body": f"hey {bob.user_id}",
                                "m.mentions": {"user_ids": [bob.user_id]}})  # a mention is m.mentions (v1.17)
    first = await sync(hs, bob)
    unread = first["rooms"]["join"][room]["unread_notifications"]
    assert unread == {"notification_count": 2, "highlight_count": 1}
    await hs.ok("POST", f"/rooms/{room}/receipt/m.read/{e1}", bob, {})
    second = await sync(hs, alice, since=(await sync(hs, alice))["next_batch"], timeout=0)
    assert ephemeral(second, room, "m.receipt") is None
    body = await sync(hs, alice)
    receipts = ephemeral(body, room, "m.receipt")
    assert bob.user_id in receipts[e1]["m.read"]
    assert "ts" in receipts[e1]["m.read"][bob.user_id]
    assert (await sync(hs, bob))["rooms"]["join"][room]["unread_notifications"]["notification_count"] == 1


async def test_private_receipt_only_for_owner(hs):
    alice, bob, room = await two_in_room(hs)
    eid = await hs.send(alice, room, {"msgtype": "m.text", "body": "1"})
    await hs.ok("POST", f"/rooms/{room}/receipt/m.read.private/{eid}", bob, {})
    assert ephemeral(await sync(hs, alice), room, "m.receipt") is None
    mine = ephemeral(await sync(hs, bob), room, "m.receipt")
    assert bob.user_id in mine[eid]["m.read.private"]


async def test_threaded_receipt_and_errors(hs):
    alice, bob, room = await two_in_room(hs)
    eid = await hs.send(alice, room, {"msgtype": "m.text", "body": "1"})
    await hs.ok("POST", f"/rooms/{room}/receipt/m.read/{eid}", bob, {"thread_id": "main"})
    content = ephemeral(await sync(hs, alice), room, "m.receipt")
    assert content[eid]["m.read"][bob.user_id]["thread_id"] == "main"
    await hs.error("POST", f"/rooms/{room}/receipt/m.read/{eid}", bob, {"thread_id": ""}, "M_INVALID_PARAM", 400)
    await hs.error("POST", f"/rooms/{room}/receipt/m.fully_read/{eid}", bob, {"thread_id": "main"},
                   "M_INVALID_PARAM", 400)
    await hs.error("POST", f"/rooms/{room}/receipt/m.bogus/{eid}", bob, {}, "M_INVALID_PARAM", 400)
    eve = await hs.user("eve")
    await hs.error("POST", f"/rooms/{room}/receipt/m.read/{eid}", eve, {}, "M_FORBIDDEN", 403)


async def test_fully_read_marker_is_room_account_data(hs):
    alice, bob, room = await two_in_room(hs)
    eid = await hs.send(alice, room, {"msgtype": "m.text", "body": "1"})
    await hs.ok("POST", f"/rooms/{room}/read_markers", bob, {"m.fully_read": eid, "m.read": eid})
    got = await hs.ok("GET", f"/user/{bob.user_id}/rooms/{room}/account_data/m.fully_read", bob)
    assert got == {"event_id": eid}
    body = await sync(hs, bob)
    ad = body["rooms"]["join"][room]["account_data"]["events"]
    assert {"type": "m.fully_read", "content": {"event_id": eid}} in ad
    assert bob.user_id in ephemeral(await sync(hs, alice), room, "m.receipt")[eid]["m.read"]
    await hs.error("PUT", f"/user/{bob.user_id}/rooms/{room}/account_data/m.fully_read", bob,
                   {"event_id": eid}, "M_BAD_JSON", 400)


async def test_typing_wakes_sync_and_expires(hs):
    alice, bob, room = await two_in_room(hs)
    token = (await sync(hs, alice))["next_batch"]

    async def later():
        await asyncio.sleep(0.2)
        await hs.ok("PUT", f"/rooms/{room}/typing/{bob.user_id}", bob, {"typing": True, "timeout": 500})

    task = asyncio.create_task(later())
    t0 = time.monotonic()
    body = await sync(hs, alice, since=token, timeout=10000)
    await task
    assert time.monotonic() - t0 < 3
    assert ephemeral(body, room, "m.typing") == {"user_ids": [bob.user_id]}
    # The timeout ends it, and that is news too.
    t0 = time.monotonic()
    body2 = await sync(hs, alice, since=body["next_batch"], timeout=5000)
    assert time.monotonic() - t0 < 3
    assert ephemeral(body2, room, "m.typing") == {"user_ids": []}


async def test_typing_errors(hs):
    alice, bob, room = await two_in_room(hs)
    await hs.error("PUT", f"/rooms/{room}/typing/{alice.user_id}", bob, {"typing": True}, "M_FORBIDDEN", 403)
    await hs.error("PUT", f"/rooms/{room}/typing/{bob.user_id}", bob, {"typing": "yes"}, "M_BAD_JSON", 400)
    eve = await hs.user("eve")
    await hs.error("PUT", f"/rooms/{room}/typing/{eve.user_id}", eve, {"typing": True}, "M_FORBIDDEN", 403)
