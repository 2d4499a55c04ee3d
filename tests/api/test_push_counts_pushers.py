"""Push evaluation in-process: unread counts in /sync (per room and per thread), cleared by
receipts; /notifications; pushers (pusher.yaml) and delivery to a local push gateway."""
from __future__ import annotations

import asyncio
import json

import pytest

from tests.push_gateway import PushGateway


async def sync(hs, user, since: str | None = None, filter_: dict | None = None) -> dict:
    q = []
    if since:
        q.append(f"since={since}")
    if filter_ is not None:
        q.append("filter=" + json.dumps(filter_, separators=(",", ":")))
    return await hs.ok("GET", "/sync" + ("?" + "&".join(q) if q else ""), user)


def counts(body: dict, room: str) -> dict:
    return body["rooms"]["join"][room]["unread_notifications"]


async def three_in_room(hs):
    alice, bob, carol = await hs.user("alice"), await hs.user("bob"), await hs.user("carol")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room}", bob)
    await hs.ok("POST", f"/join/{room}", carol)
    return alice, bob, carol, room


def mention(user, body: str = "hey") -> dict:
    return {"msgtype": "m.text", "body": f"{body} {user.user_id}", "m.mentions": {"user_ids": [user.user_id]}}


@pytest.fixture
async def gateway():
    gw = await PushGateway().start()
    yield gw
    await gw.stop()


async def test_mention_is_a_highlight_and_a_receipt_clears_it(hs):
    alice, bob, carol, room = await three_in_room(hs)
    first = await sync(hs, bob)
    assert counts(first, room) == {"notification_count": 0, "highlight_count": 0}
    await hs.send(alice, room, {"msgtype": "m.text", "body": "plain"})
    eid = await hs.send(alice, room, mention(bob))
    await hs.send(alice, room, {"msgtype": "m.notice", "body": "a bot says"})  # suppressed
    second = await sync(hs, bob, first["next_batch"])
    assert counts(second, room) == {"notification_count": 2, "highlight_count": 1}
    assert counts(await sync(hs, carol), room) == {"notification_count": 2, "highlight_count": 0}
    await hs.ok("POST", f"/rooms/{room}/receipt/m.read/{eid}", bob, {})
    third = await sync(hs, bob, second["next_batch"])
    assert counts(third, room) == {"notification_count": 0, "highlight_count": 0}
    # A private receipt counts too; the sender's own messages never notify them.
    e2 = await hs.send(alice, room, mention(carol))
    assert counts(await sync(hs, carol), room) == {"notification_count": 3, "highlight_count": 1}
    await hs.ok("POST", f"/rooms/{room}/receipt/m.read.private/{e2}", carol, {})
    assert counts(await sync(hs, carol), room) == {"notification_count": 0, "highlight_count": 0}
    assert counts(await sync(hs, alice), room) == {"notification_count": 0, "highlight_count": 0}


async def test_sending_marks_earlier_notifications_read(hs):
    alice, bob, _carol, room = await three_in_room(hs)
    await hs.send(alice, room, mention(bob))
    assert counts(await sync(hs, bob), room)["highlight_count"] == 1
    await hs.send(bob, room, {"msgtype": "m.text", "body": "seen it"})
    assert counts(await sync(hs, bob), room) == {"notification_count": 0, "highlight_count": 0}


async def test_room_mention_needs_power(hs):
    alice, bob, carol, room = await three_in_room(hs)  # alice created the room: power 100
    await hs.send(carol, room, {"msgtype": "m.text", "body": "@room hi", "m.mentions": {"room": True}})
    assert counts(await sync(hs, bob), room) == {"notification_count": 1, "highlight_count": 0}
    await hs.send(alice, room, {"msgtype": "m.text", "body": "@room hi", "m.mentions": {"room": True}})
    assert counts(await sync(hs, bob), room) == {"notification_count": 2, "highlight_count": 1}


async def test_thread_counts_with_unread_thread_notifications(hs):
    alice, bob, _carol, room = await three_in_room(hs)
    root = await hs.send(alice, room, {"msgtype": "m.text", "body": "root"})
    in_thread = {"msgtype": "m.text", "body": "reply", "m.relates_to": {"rel_type": "m.thread", "event_id": root}}
    t1 = await hs.send(alice, room, in_thread)
    await hs.send(alice, room, {**mention(bob), "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    threaded = {"room": {"timeline": {"unread_thread_notifications": True}}}
    body = await sync(hs, bob, filter_=threaded)
    joined = body["rooms"]["join"][room]
    assert joined["unread_notifications"] == {"notification_count": 1, "highlight_count": 0}
    assert joined["unread_thread_notifications"] == {root: {"notification_count": 2, "highlight_count": 1}}
    assert counts(await sync(hs, bob), room) == {"notification_count": 3, "highlight_count": 1}
    # A threaded receipt clears only its thread, up to its event.
    await hs.ok("POST", f"/rooms/{room}/receipt/m.read/{t1}", bob, {"thread_id": root})
    joined = (await sync(hs, bob, filter_=threaded))["rooms"]["join"][room]
    assert joined["unread_notifications"] == {"notification_count": 1, "highlight_count": 0}
    assert joined["unread_thread_notifications"] == {root: {"notification_count": 1, "highlight_count": 1}}
    await hs.ok("POST", f"/rooms/{room}/receipt/m.read/{root}", bob, {"thread_id": "main"})
    joined = (await sync(hs, bob, filter_=threaded))["rooms"]["join"][room]
    assert joined["unread_notifications"] == {"notification_count": 0, "highlight_count": 0}
    assert "unread_thread_notifications" not in (await sync(hs, bob))["rooms"]["join"][room]


async def test_a_reply_in_a_thread_reads_that_thread_only(hs):
    """What the user sends reads the thread it is in (MSC3771): a reply in a thread clears that
    thread's count, not the main timeline's; a message in the main timeline clears the main one."""
    alice, bob, _carol, room = await three_in_room(hs)
    root = await hs.send(alice, room, {"msgtype": "m.text", "body": "root"})
    in_thread = {"msgtype": "m.text", "body": "reply", "m.relates_to": {"rel_type": "m.thread", "event_id": root}}
    await hs.send(alice, room, in_thread)
    await hs.send(alice, room, {"msgtype": "m.text", "body": "main again"})
    threaded = {"room": {"timeline": {"unread_thread_notifications": True}}}
    joined = (await sync(hs, bob, filter_=threaded))["rooms"]["join"][room]
    assert joined["unread_notifications"]["notification_count"] == 2
    assert joined["unread_thread_notifications"][root]["notification_count"] == 1
    await hs.send(bob, room, {**in_thread, "body": "me too"})
    joined = (await sync(hs, bob, filter_=threaded))["rooms"]["join"][room]
    assert joined["unread_notifications"]["notification_count"] == 2  # the main timeline is still unread
    assert root not in joined.get("unread_thread_notifications", {})
    assert counts(await sync(hs, bob), room)["notification_count"] == 2
    await hs.send(bob, room, {"msgtype": "m.text", "body": "and here"})
    assert counts(await sync(hs, bob), room)["notification_count"] == 0


async def test_notifications_endpoint(hs):
    alice, bob, _carol, room = await three_in_room(hs)
    e1 = await hs.send(alice, room, {"msgtype": "m.text", "body": "one"})
    e2 = await hs.send(alice, room, mention(bob))
    e3 = await hs.send(alice, room, {"msgtype": "m.text", "body": "three"})
    body = await hs.ok("GET", "/notifications", bob)
    assert [n["event"]["event_id"] for n in body["notifications"]] == [e3, e2, e1]
    n = body["notifications"][1]
    assert n["room_id"] == room and n["read"] is False and isinstance(n["ts"], int)
    assert {"set_tweak": "highlight"} in n["actions"] and "room_id" not in n["event"]
    assert "next_token" not in body
    page = await hs.ok("GET", "/notifications?limit=2", bob)
    assert [n["event"]["event_id"] for n in page["notifications"]] == [e3, e2]
    rest = await hs.ok("GET", f"/notifications?limit=2&from={page['next_token']}", bob)
    assert [n["event"]["event_id"] for n in rest["notifications"]] == [e1]
    only = await hs.ok("GET", "/notifications?only=highlight", bob)
    assert [n["event"]["event_id"] for n in only["notifications"]] == [e2]
    await hs.ok("POST", f"/rooms/{room}/receipt/m.read/{e2}", bob, {})
    reads = [n["read"] for n in (await hs.ok("GET", "/notifications", bob))["notifications"]]
    assert reads == [False, True, True]
    await hs.error("GET", "/notifications?from=bogus", bob, None, "M_INVALID_PARAM", 400)
    await hs.error("GET", "/notifications?limit=-1", bob, None, "M_INVALID_PARAM", 400)


def pusher_body(url: str, **extra) -> dict:
    return {"kind": "http", "app_id": "org.hearth.test", "pushkey": "key-1", "app_display_name": "Test",
            "device_display_name": "Phone", "lang": "en", "data": {"url": url, "custom": 1}, **extra}


async def test_pushers_set_get_delete_and_errors(hs):
    bob = await hs.user("bob")
    url = "https://push.example.org/_matrix/push/v1/notify"
    assert await hs.ok("GET", "/pushers", bob) == {"pushers": []}
    await hs.ok("POST", "/pushers/set", bob, pusher_body(url, profile_tag="xyz"))
    got = (await hs.ok("GET", "/pushers", bob))["pushers"]
    assert got == [{"pushkey": "key-1", "kind": "http", "app_id": "org.hearth.test", "app_display_name": "Test",
                    "device_display_name": "Phone", "lang": "en", "profile_tag": "xyz",
                    "data": {"url": url, "custom": 1}}]
    await hs.ok("POST", "/pushers/set", bob, pusher_body(url, device_display_name="Tablet"))
    assert [p["device_display_name"] for p in (await hs.ok("GET", "/pushers", bob))["pushers"]] == ["Tablet"]
    # Another user taking the same app_id/pushkey removes ours unless they append.
    carol = await hs.user("carol")
    await hs.ok("POST", "/pushers/set", carol, pusher_body(url, append=True))
    assert len((await hs.ok("GET", "/pushers", bob))["pushers"]) == 1
    await hs.ok("POST", "/pushers/set", carol, pusher_body(url))
    assert (await hs.ok("GET", "/pushers", bob))["pushers"] == []
    await hs.ok("POST", "/pushers/set", carol, {"kind": None, "app_id": "org.hearth.test", "pushkey": "key-1"})
    assert (await hs.ok("GET", "/pushers", carol))["pushers"] == []

    bad = [
        ({"app_id": "a", "pushkey": "k"}, "M_MISSING_PARAM"),
        ({"kind": "http", "app_id": "a", "pushkey": "k"}, "M_MISSING_PARAM"),
        (pusher_body(url, kind="email"), "M_INVALID_PARAM"),
        (pusher_body(url, app_id="x" * 65), "M_INVALID_PARAM"),
        (pusher_body(url, pushkey="k" * 513), "M_INVALID_PARAM"),
        (pusher_body(url, data={}), "M_MISSING_PARAM"),
        (pusher_body(url, data={"url": "https://push.example.org/notify"}), "M_INVALID_PARAM"),
        (pusher_body(url, data={"url": "ftp://push.example.org/_matrix/push/v1/notify"}), "M_INVALID_PARAM"),
        (pusher_body(url, data={"url": 3}), "M_INVALID_PARAM"),
        (pusher_body(url, data={"url": url, "format": "full"}), "M_INVALID_PARAM"),
        (pusher_body(url, data="nope"), "M_INVALID_PARAM"),
        (pusher_body(url, append="yes"), "M_INVALID_PARAM"),
        (pusher_body(url, lang=5), "M_INVALID_PARAM"),
    ]
    for body, errcode in bad:
        await hs.error("POST", "/pushers/set", bob, body, errcode, 400)


async def test_pusher_delivers_a_mention_to_the_gateway(hs, gateway):
    alice, bob, _carol, room = await three_in_room(hs)
    await hs.send(alice, room, {"msgtype": "m.text", "body": "before the pusher"})
    await hs.ok("PUT", f"/rooms/{room}/state/m.room.name", alice, {"name": "Kitchen"})
    await hs.ok("POST", "/pushers/set", bob, pusher_body(gateway.url))
    eid = await hs.send(alice, room, mention(bob))
    [got] = await gateway.wait_for(1)
    note = got["notification"]
    assert note["event_id"] == eid and note["room_id"] == room
    assert note["type"] == "m.room.message" and note["sender"] == alice.user_id
    assert note["content"]["body"].startswith("hey") and note["room_name"] == "Kitchen"
    assert note["counts"] == {"unread": 2} and note["prio"] == "high"
    assert note["devices"] == [{"app_id": "org.hearth.test", "pushkey": "key-1",
                                "pushkey_ts": note["devices"][0]["pushkey_ts"], "data": {"custom": 1},
                                "tweaks": {"sound": "default", "highlight": True}}]
    # event_id_only: only the IDs, counts and devices.
    await hs.ok("POST", "/pushers/set", bob, pusher_body(gateway.url, data={"url": gateway.url,
                                                                             "format": "event_id_only"}))
    e2 = await hs.send(alice, room, {"msgtype": "m.text", "body": "second"})
    note = (await gateway.wait_for(2))[1]["notification"]
    assert note["event_id"] == e2 and "content" not in note and "sender" not in note
    assert note["devices"][0]["data"] == {"format": "event_id_only"} and note["counts"] == {"unread": 3}
    await asyncio.sleep(0.2)
    assert len(gateway.received) == 2  # each notification once


async def test_gateway_errors_are_retried_and_rejected_pushkeys_remove_the_pusher(hs, gateway):
    hs.hearth.push.pushers.min_backoff = 0.05
    alice, bob, _carol, room = await three_in_room(hs)
    await hs.ok("POST", "/pushers/set", bob, pusher_body(gateway.url))
    gateway.answers = [(500, {}), (502, {})]
    e1 = await hs.send(alice, room, {"msgtype": "m.text", "body": "one"})
    e2 = await hs.send(alice, room, {"msgtype": "m.text", "body": "two"})
    got = await gateway.wait_for(2)
    assert [g["notification"]["event_id"] for g in got] == [e1, e2]  # in order, after the retries
    assert gateway.attempts == 4
    gateway.answers = [(200, {"rejected": ["key-1"]})]
    await hs.send(alice, room, {"msgtype": "m.text", "body": "three"})
    for _ in range(100):
        if not (await hs.ok("GET", "/pushers", bob))["pushers"]:
            break
        await asyncio.sleep(0.05)
    assert (await hs.ok("GET", "/pushers", bob))["pushers"] == []
    await hs.send(alice, room, {"msgtype": "m.text", "body": "four"})
    await asyncio.sleep(0.2)
    assert gateway.attempts == 5


async def test_logging_out_a_device_removes_its_pushers(hs):
    bob = await hs.user("bob")
    await hs.ok("POST", "/pushers/set", bob, pusher_body("https://push.example.org/_matrix/push/v1/notify"))
    await hs.ok("POST", "/logout", bob, {})
    other = await hs.user("bob")
    assert (await hs.ok("GET", "/pushers", other))["pushers"] == []


async def test_sync_counts_a_message_the_evaluator_has_not_recorded_yet(hs):
    """/sync does not wait for the background evaluator's write: it evaluates the room's
    unrecorded events for its user itself; once they are recorded they are not counted twice."""
    alice, bob, carol, room = await three_in_room(hs)
    push = hs.hearth.push.service
    await push.catch_up(hs.hearth.core.stream.current)
    await push._lock.acquire()  # the evaluator is stuck (behind a slow commit, say)
    try:
        await hs.send(alice, room, mention(bob))
        await hs.send(alice, room, {"msgtype": "m.text", "body": "plain"})
        assert await push.position() < hs.hearth.core.stream.current
        assert counts(await sync(hs, bob), room) == {"notification_count": 2, "highlight_count": 1}
        assert counts(await sync(hs, carol), room) == {"notification_count": 2, "highlight_count": 0}
    finally:
        push._lock.release()
    await push.catch_up(hs.hearth.core.stream.current)
    assert await push.position() == hs.hearth.core.stream.current
    assert counts(await sync(hs, bob), room) == {"notification_count": 2, "highlight_count": 1}
