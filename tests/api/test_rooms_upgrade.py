"""POST /rooms/{roomId}/upgrade (room_upgrades.md, server behaviour)."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("old,new", [("10", "11"), ("11", "12"), ("12", "12"), ("1", "9")])
async def test_upgrade(hs, old, new):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    carol = await hs.user("carol")
    dave = await hs.user("dave")
    room_id = await hs.create_room(alice, room_version=old, preset="public_chat", visibility="public",
                                   name="Old", topic="T", room_alias_name="home",
                                   creation_content={"type": "org.example.kind"})
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    await hs.ok("POST", f"/rooms/{room_id}/invite", alice, {"user_id": carol.user_id})
    await hs.ok("POST", f"/rooms/{room_id}/ban", alice, {"user_id": dave.user_id})
    await hs.error("POST", f"/rooms/{room_id}/upgrade", bob, {"new_version": new}, "M_FORBIDDEN", 403)
    last = await hs.send(alice, room_id)

    body = await hs.ok("POST", f"/rooms/{room_id}/upgrade", alice, {"new_version": new})
    new_room = body["replacement_room"]
    assert new_room != room_id
    assert (await hs.hearth.core.event_store.room_version(new_room)).id == new

    create = await hs.state(new_room, "m.room.create")
    assert create.sender == alice.user_id
    tombstone = await hs.state(room_id, "m.room.tombstone")
    if new == "12":  # the new room's ID is its create event's hash, which the tombstone names
        assert create.content["predecessor"] == {"room_id": room_id}
    else:  # the tombstone is the old room's last event, sent before the new room
        assert create.content["predecessor"] == {"room_id": room_id, "event_id": tombstone.event_id}
        assert tombstone.origin_server_ts <= create.origin_server_ts
    assert last != tombstone.event_id
    assert create.content["type"] == "org.example.kind"
    assert create.content["room_version"] == new
    tombstone = await hs.state(room_id, "m.room.tombstone")
    assert tombstone.content["replacement_room"] == new_room
    # Transferred state.
    assert (await hs.state(new_room, "m.room.name")).content == {"name": "Old"}
    assert (await hs.state(new_room, "m.room.topic")).content["topic"] == "T"
    assert (await hs.state(new_room, "m.room.join_rules")).content == {"join_rule": "public"}
    pl = (await hs.state(new_room, "m.room.power_levels")).content
    if new == "12":
        assert alice.user_id not in pl["users"]
        assert pl["events"]["m.room.tombstone"] > pl["state_default"]
    else:
        assert pl["users"][alice.user_id] == 100
    # Aliases, canonical alias and the directory listing move.
    assert (await hs.ok("GET", "/directory/room/%23home:hearth.test"))["room_id"] == new_room
    assert (await hs.state(new_room, "m.room.canonical_alias")).content == {"alias": "#home:hearth.test"}
    assert (await hs.state(room_id, "m.room.canonical_alias")).content == {}
    assert (await hs.ok("GET", f"/directory/list/room/{new_room}"))["visibility"] == "public"
    assert (await hs.ok("GET", f"/directory/list/room/{room_id}"))["visibility"] == "private"
    # Members are invited again, bans carry over; the old room is closed for sending.
    assert await hs.membership(new_room, carol) == "invite"
    assert await hs.membership(new_room, dave) == "ban"
    old_pl = (await hs.state(room_id, "m.room.power_levels")).content
    assert old_pl["events_default"] == 50 and old_pl["invite"] == 50
    await hs.error("PUT", f"/rooms/{room_id}/send/m.room.message/late", bob, {"body": "x"}, "M_FORBIDDEN", 403)
    # bob joins the new room and talks there.
    await hs.ok("POST", f"/join/{new_room}", bob, {})
    await hs.send(bob, new_room)


async def test_upgrade_errors(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice)
    await hs.error("POST", f"/rooms/{room_id}/upgrade", alice, {"new_version": "99"}, "M_UNSUPPORTED_ROOM_VERSION", 400)
    await hs.error("POST", f"/rooms/{room_id}/upgrade", alice, {}, "M_BAD_JSON", 400)
    await hs.error("POST", f"/rooms/{room_id}/upgrade", bob, {"new_version": "12"}, "M_FORBIDDEN", 403)
    await hs.error("POST", "/rooms/!nope:hearth.test/upgrade", alice, {"new_version": "12"}, "M_NOT_FOUND", 404)


async def test_upgrade_to_v12_with_additional_creators(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, room_version="11", invite=[bob.user_id],
                                   power_level_content_override={"users": {alice.user_id: 100, bob.user_id: 100}})
    body = await hs.ok("POST", f"/rooms/{room_id}/upgrade", alice,
                       {"new_version": "12", "additional_creators": [bob.user_id]})
    new_room = body["replacement_room"]
    create = await hs.state(new_room, "m.room.create")
    assert create.content["additional_creators"] == [bob.user_id]
    pl = (await hs.state(new_room, "m.room.power_levels")).content
    assert pl["users"] == {}  # both creators dropped from users


async def test_upgrade_from_v12_down_keeps_the_creator_in_charge(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, room_version="12")
    new_room = (await hs.ok("POST", f"/rooms/{room_id}/upgrade", alice, {"new_version": "11"}))["replacement_room"]
    pl = (await hs.state(new_room, "m.room.power_levels")).content
    assert pl["users"] == {alice.user_id: 100}
    await hs.ok("PUT", f"/rooms/{new_room}/state/m.room.name", alice, {"name": "still mine"})


async def test_upgrade_turns_string_power_levels_into_integers(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, room_version="1", initial_state=[{
        "type": "m.room.power_levels",
        "content": {"users": {alice.user_id: "100", bob.user_id: " 50 "}, "state_default": "50",
                    "events": {"m.room.name": "50", "m.room.tombstone": "100"}, "kick": 1.5}}])
    new_room = (await hs.ok("POST", f"/rooms/{room_id}/upgrade", alice, {"new_version": "10"}))["replacement_room"]
    pl = (await hs.state(new_room, "m.room.power_levels")).content
    assert pl["users"] == {alice.user_id: 100, bob.user_id: 50}
    assert pl["state_default"] == 50 and pl["kick"] == 1
    assert pl["events"] == {"m.room.name": 50, "m.room.tombstone": 100}
