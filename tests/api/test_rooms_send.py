"""Sending messages and state, transaction IDs, and redaction."""
from __future__ import annotations

import pytest


async def test_send_is_idempotent_per_device_and_transaction(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice)
    path = f"/rooms/{room_id}/send/m.room.message/txn1"
    first = await hs.ok("PUT", path, alice, {"msgtype": "m.text", "body": "once"})
    again = await hs.ok("PUT", path, alice, {"msgtype": "m.text", "body": "once"})
    assert first == again
    evs = await hs.hearth.core.event_store.events_in_room(room_id, "m.room.message")
    assert [e.event_id for e in evs] == [first["event_id"]]
    assert evs[0].txn_key == f"{alice.user_id}|{alice.device_id}|txn1"
    # Another transaction ID, or another device, is a new event.
    other_txn = await hs.ok("PUT", f"/rooms/{room_id}/send/m.room.message/txn2", alice, {"body": "x"})
    assert other_txn["event_id"] != first["event_id"]
    alice2 = await hs.user("alice")  # a second device
    other_device = await hs.ok("PUT", path, alice2, {"body": "x"})
    assert other_device["event_id"] != first["event_id"]
    # The same transaction ID on another path (event type) is a different request.
    other_path = await hs.ok("PUT", f"/rooms/{room_id}/send/m.reaction/txn1", alice, {})
    assert other_path["event_id"] != first["event_id"]


async def test_concurrent_retransmissions_make_one_event(hs):
    import asyncio

    alice = await hs.user("alice")
    room_id = await hs.create_room(alice)
    path = f"/rooms/{room_id}/send/m.room.message/same"
    results = await asyncio.gather(*[hs.ok("PUT", path, alice, {"body": "x"}) for _ in range(5)])
    assert len({r["event_id"] for r in results}) == 1


async def test_send_forbidden_and_unknown(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice)
    await hs.error("PUT", f"/rooms/{room_id}/send/m.room.message/1", bob, {"body": "x"}, "M_FORBIDDEN", 403)
    await hs.error("PUT", "/rooms/!nope:hearth.test/send/m.room.message/1", alice, {"body": "x"}, "M_NOT_FOUND", 404)
    await hs.error("PUT", f"/rooms/{room_id}/send/m.room.message/1", alice, [1], "M_BAD_JSON", 400)
    await hs.error("PUT", f"/rooms/{room_id}/send/m.room.message/2", alice, {"body": "x" * 70000}, "M_TOO_LARGE", 413)
    # events_default raised above bob's level.
    await hs.ok("POST", f"/rooms/{room_id}/invite", alice, {"user_id": bob.user_id})
    await hs.ok("POST", f"/rooms/{room_id}/join", bob, {})
    await hs.send(bob, room_id)
    await hs.ok("PUT", f"/rooms/{room_id}/state/m.room.power_levels", alice,
                {**(await hs.state(room_id, "m.room.power_levels")).content, "events_default": 10})
    await hs.error("PUT", f"/rooms/{room_id}/send/m.room.message/9", bob, {"body": "x"}, "M_FORBIDDEN", 403)


async def test_set_state_with_and_without_key(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat")
    body = await hs.ok("PUT", f"/rooms/{room_id}/state/m.room.name", alice, {"name": "One"})
    assert (await hs.state(room_id, "m.room.name")).event_id == body["event_id"]
    body = await hs.ok("PUT", f"/rooms/{room_id}/state/m.room.name/", alice, {"name": "Two"})
    assert (await hs.state(room_id, "m.room.name")).content == {"name": "Two"}
    body = await hs.ok("PUT", f"/rooms/{room_id}/state/org.example.thing/a/b%2Fc", alice, {"v": 1})
    pdu = await hs.state(room_id, "org.example.thing", "a/b/c")
    assert pdu.event_id == body["event_id"]
    # State needs PL 50: bob (joined, PL 0) may not.
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    await hs.error("PUT", f"/rooms/{room_id}/state/m.room.topic", bob, {"topic": "x"}, "M_FORBIDDEN", 403)
    # The create event cannot be sent again.
    await hs.error("PUT", f"/rooms/{room_id}/state/m.room.create", alice, {}, "M_FORBIDDEN", 403)
    # A member event through the state API: changing one's own display name.
    await hs.ok("PUT", f"/rooms/{room_id}/state/m.room.member/{bob.user_id}", bob,
                {"membership": "join", "displayname": "Bobby"})
    assert (await hs.state(room_id, "m.room.member", bob.user_id)).content["displayname"] == "Bobby"


async def test_canonical_alias_must_point_to_the_room(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, room_alias_name="main")
    other = await hs.create_room(alice, room_alias_name="other")
    path = f"/rooms/{room_id}/state/m.room.canonical_alias"
    await hs.error("PUT", path, alice, {"alias": "not-an-alias"}, "M_INVALID_PARAM", 400)
    await hs.error("PUT", path, alice, {"alias": "#main:hearth.test", "alt_aliases": ["#other:hearth.test"]},
                   "M_BAD_ALIAS", 400)
    await hs.error("PUT", path, alice, {"alias": "#missing:hearth.test"}, "M_BAD_ALIAS", 400)
    await hs.ok("PUT", "/directory/room/%23second:hearth.test", alice, {"room_id": room_id})
    await hs.ok("PUT", path, alice, {"alias": "#main:hearth.test", "alt_aliases": ["#second:hearth.test"]})
    assert other != room_id


@pytest.mark.parametrize("version", ["1", "10", "11", "12"])
async def test_redaction_own_and_others(hs, version):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    carol = await hs.user("carol")
    room_id = await hs.create_room(alice, preset="public_chat", room_version=version)
    for u in (bob, carol):
        await hs.ok("POST", f"/join/{room_id}", u, {})
    bob_msg = await hs.send(bob, room_id)
    alice_msg = await hs.send(alice, room_id)
    # carol (PL 0) cannot redact others' events.
    await hs.error("PUT", f"/rooms/{room_id}/redact/{bob_msg}/r1", carol, {}, "M_FORBIDDEN", 403)
    await hs.error("PUT", f"/rooms/{room_id}/redact/{alice_msg}/r1", bob, {}, "M_FORBIDDEN", 403)
    # bob redacts his own; alice (PL 100) redacts carol's.
    own = await hs.ok("PUT", f"/rooms/{room_id}/redact/{bob_msg}/r1", bob, {"reason": "typo"})
    again = await hs.ok("PUT", f"/rooms/{room_id}/redact/{bob_msg}/r1", bob, {"reason": "typo"})
    assert own == again
    redaction = (await hs.hearth.core.event_store.get_event(own["event_id"])).pdu
    assert redaction.redacts == bob_msg
    if version in ("11", "12"):
        assert redaction.content == {"reason": "typo", "redacts": bob_msg}
        assert "redacts" not in redaction.data
    else:
        assert redaction.content == {"reason": "typo"}
        assert redaction.data["redacts"] == bob_msg
    assert (await hs.hearth.core.event_store.get_event(bob_msg)).redacted_by == own["event_id"]
    carol_msg = await hs.send(carol, room_id)
    mod = await hs.ok("PUT", f"/rooms/{room_id}/redact/{carol_msg}/r2", alice, {})
    assert (await hs.hearth.core.event_store.get_event(carol_msg)).redacted_by == mod["event_id"]
    # Unknown event, or an event of another room.
    await hs.error("PUT", f"/rooms/{room_id}/redact/$nope/r3", alice, {}, "M_NOT_FOUND", 404)
    elsewhere = await hs.create_room(alice)
    await hs.error("PUT", f"/rooms/{elsewhere}/redact/{alice_msg}/r4", alice, {}, "M_NOT_FOUND", 404)


@pytest.mark.parametrize("version", ["3", "11"])
async def test_redaction_through_send(hs, version):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat", room_version=version)
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    alice_msg = await hs.send(alice, room_id)
    bob_msg = await hs.send(bob, room_id)
    await hs.error("PUT", f"/rooms/{room_id}/send/m.room.redaction/s1", bob, {"redacts": alice_msg},
                   "M_FORBIDDEN", 403)
    await hs.error("PUT", f"/rooms/{room_id}/send/m.room.redaction/s2", bob, {}, "M_BAD_JSON", 400)
    body = await hs.ok("PUT", f"/rooms/{room_id}/send/m.room.redaction/s3", bob, {"redacts": bob_msg})
    pdu = (await hs.hearth.core.event_store.get_event(body["event_id"])).pdu
    assert pdu.redacts == bob_msg
    if version == "3":  # room_send.yaml: moved to the top level before v11
        assert "redacts" not in pdu.content and pdu.data["redacts"] == bob_msg
    else:
        assert pdu.content["redacts"] == bob_msg
    assert (await hs.hearth.core.event_store.get_event(bob_msg)).redacted_by == body["event_id"]


async def test_setting_the_same_state_again_sends_nothing(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    path = f"/rooms/{room_id}/state/org.example.thing/k"
    first = (await hs.ok("PUT", path, alice, {"a": 1, "b": [True]}))["event_id"]
    again = (await hs.ok("PUT", path, alice, {"b": [True], "a": 1}))["event_id"]  # key order does not matter
    assert again == first
    assert len(await hs.hearth.core.event_store.events_in_room(room_id, "org.example.thing")) == 1
    topic = (await hs.ok("PUT", f"/rooms/{room_id}/state/m.room.topic", alice, {"topic": "t"}))["event_id"]
    assert (await hs.ok("PUT", f"/rooms/{room_id}/state/m.room.topic/", alice, {"topic": "t"}))["event_id"] == topic
    # Other content, or the same content from someone else, is a new event.
    changed = (await hs.ok("PUT", path, alice, {"a": True, "b": [True]}))["event_id"]
    assert changed != first
    await hs.ok("PUT", f"/rooms/{room_id}/state/m.room.power_levels", alice, {
        **(await hs.state(room_id, "m.room.power_levels")).content, "state_default": 0})
    by_bob = (await hs.ok("PUT", path, bob, {"a": True, "b": [True]}))["event_id"]
    assert by_bob != changed
    assert len(await hs.hearth.core.event_store.events_in_room(room_id, "org.example.thing")) == 3
    # Someone who left cannot have their old state echoed back: the send is refused as usual.
    await hs.ok("POST", f"/rooms/{room_id}/leave", bob, {})
    await hs.error("PUT", path, bob, {"a": True, "b": [True]}, "M_FORBIDDEN", 403)
