"""POST /createRoom: presets, room versions 1–12, the event order, and the PDUs it stores."""
from __future__ import annotations

import pytest

from appliance.core.protocol import room_versions
from appliance.core.protocol.signing import verify_event_signature


async def test_create_room_default_version_and_event_order(hs):
    alice = await hs.user("alice", displayname="Alice")
    room_id = await hs.create_room(alice, name="Kitchen", topic="Food", room_alias_name="kitchen")
    version = await hs.hearth.core.event_store.room_version(room_id)
    assert version.id == hs.hearth.settings.default_room_version == "12"
    evs = await hs.hearth.core.event_store.events_in_room(room_id)
    types = [(e.pdu.type, e.pdu.state_key) for e in evs]
    assert types == [
        ("m.room.create", ""),
        ("m.room.member", alice.user_id),
        ("m.room.power_levels", ""),
        ("m.room.canonical_alias", ""),
        ("m.room.join_rules", ""),
        ("m.room.history_visibility", ""),
        ("m.room.guest_access", ""),
        ("m.room.name", ""),
        ("m.room.topic", ""),
    ]
    create = evs[0].pdu
    assert "room_id" not in create.data  # v12: the room ID is the create event's hash
    assert room_id == "!" + create.event_id[1:]
    member = evs[1].pdu
    assert member.content == {"membership": "join", "displayname": "Alice"}
    pl = evs[2].pdu.content
    assert alice.user_id not in pl["users"]  # v12 creators are not listed
    assert pl["events"]["m.room.tombstone"] > pl["state_default"]
    assert pl["events"]["m.room.tombstone"] == 150
    assert evs[3].pdu.content == {"alias": "#kitchen:hearth.test"}
    topic = evs[8].pdu.content
    assert topic["topic"] == "Food"
    assert topic["m.topic"]["m.text"] == [{"mimetype": "text/plain", "body": "Food"}]
    # Each event points at the one before it.
    for before, after in zip(evs, evs[1:]):
        assert after.pdu.prev_event_ids == [before.event_id]


@pytest.mark.parametrize("preset,join_rule,guest,invite_level", [
    ("private_chat", "invite", "can_join", 0),
    ("trusted_private_chat", "invite", "can_join", 0),
    ("public_chat", "public", "forbidden", 50),
])
async def test_presets(hs, preset, join_rule, guest, invite_level):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, preset=preset)
    assert (await hs.state(room_id, "m.room.join_rules")).content == {"join_rule": join_rule}
    assert (await hs.state(room_id, "m.room.history_visibility")).content == {"history_visibility": "shared"}
    assert (await hs.state(room_id, "m.room.guest_access")).content == {"guest_access": guest}
    assert (await hs.state(room_id, "m.room.power_levels")).content["invite"] == invite_level


async def test_visibility_chooses_the_preset_and_publishes(hs):
    alice = await hs.user("alice")
    public = await hs.create_room(alice, visibility="public")
    private = await hs.create_room(alice)
    assert (await hs.state(public, "m.room.join_rules")).content["join_rule"] == "public"
    assert (await hs.state(private, "m.room.join_rules")).content["join_rule"] == "invite"
    assert (await hs.ok("GET", f"/directory/list/room/{public}"))["visibility"] == "public"
    assert (await hs.ok("GET", f"/directory/list/room/{private}"))["visibility"] == "private"


@pytest.mark.parametrize("version_id", sorted(room_versions.KNOWN, key=int))
async def test_every_room_version_can_be_created_and_sent_into(hs, version_id):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, room_version=version_id, preset="public_chat")
    version = room_versions.KNOWN[version_id]
    assert await hs.hearth.core.event_store.room_version(room_id) is version
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    event_id = await hs.send(bob, room_id)
    stored = await hs.hearth.core.event_store.get_event(event_id)
    pdu = stored.pdu
    assert pdu.room_id == room_id and pdu.sender == bob.user_id
    assert pdu.prev_event_ids and pdu.auth_event_ids
    assert set(pdu.data["hashes"]) == {"sha256"}
    key = hs.hearth.core.signing_key
    verify_event_signature(pdu.data, hs.hearth.server_name, key.key_id, key.verify_key_bytes, version)
    create = await hs.state(room_id, "m.room.create")
    assert create.content["room_version"] == version_id
    if version.event_format.create_has_creator:
        assert create.content["creator"] == alice.user_id
    else:
        assert "creator" not in create.content
    pl = (await hs.state(room_id, "m.room.power_levels")).content
    if version.auth.privileged_creators:
        assert pl["users"] == {}
    else:
        assert pl["users"] == {alice.user_id: 100}
    # The creator's PDUs are signed too, and tampering breaks the signature.
    tampered = dict(create.data, sender=bob.user_id)
    with pytest.raises(Exception):
        verify_event_signature(tampered, hs.hearth.server_name, key.key_id, key.verify_key_bytes, version)


async def test_unsupported_room_version(hs):
    alice = await hs.user("alice")
    await hs.error("POST", "/createRoom", alice, {"room_version": "13"}, "M_UNSUPPORTED_ROOM_VERSION", 400)
    await hs.error("POST", "/createRoom", alice, {"room_version": "org.example.v1"}, "M_UNSUPPORTED_ROOM_VERSION")


async def test_alias_conflict_and_invalid_alias(hs):
    alice = await hs.user("alice")
    await hs.create_room(alice, room_alias_name="lounge")
    await hs.error("POST", "/createRoom", alice, {"room_alias_name": "lounge"}, "M_ROOM_IN_USE", 400)
    await hs.error("POST", "/createRoom", alice, {"room_alias_name": "bad:alias"}, "M_INVALID_PARAM", 400)
    await hs.error("POST", "/createRoom", alice, {"room_alias_name": "has space"}, "M_INVALID_PARAM", 400)
    await hs.error("POST", "/createRoom", alice, {"room_alias_name": "x" * 300}, "M_INVALID_PARAM", 400)


async def test_bad_bodies(hs):
    alice = await hs.user("alice")
    await hs.error("POST", "/createRoom", alice, {"preset": "party"}, "M_BAD_JSON", 400)
    await hs.error("POST", "/createRoom", alice, {"invite": "@bob:hearth.test"}, "M_BAD_JSON", 400)
    await hs.error("POST", "/createRoom", alice, {"invite": ["bob"]}, "M_INVALID_PARAM", 400)
    await hs.error("POST", "/createRoom", alice, {"initial_state": [{"type": "m.room.name"}]}, "M_BAD_JSON", 400)
    await hs.error("POST", "/createRoom", None, {}, "M_MISSING_TOKEN", 401)


async def test_invites_with_is_direct_and_profiles(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob", displayname="Bob", avatar_url="mxc://hearth.test/bob")
    room_id = await hs.create_room(alice, invite=[bob.user_id], is_direct=True)
    invite = await hs.state(room_id, "m.room.member", bob.user_id)
    assert invite.sender == alice.user_id
    assert invite.content == {"membership": "invite", "displayname": "Bob",
                              "avatar_url": "mxc://hearth.test/bob", "is_direct": True}
    await hs.ok("POST", f"/rooms/{room_id}/join", bob, {})
    assert await hs.membership(room_id, bob) == "join"


async def test_trusted_private_chat_v12_makes_invitees_creators(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    carol = await hs.user("carol")
    room_id = await hs.create_room(alice, preset="trusted_private_chat", invite=[bob.user_id],
                                   creation_content={"additional_creators": [carol.user_id]})
    create = await hs.state(room_id, "m.room.create")
    assert create.content["additional_creators"] == [carol.user_id, bob.user_id]
    pl = (await hs.state(room_id, "m.room.power_levels")).content
    assert pl["users"] == {}


async def test_trusted_private_chat_before_v12_gives_invitees_creator_level(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="trusted_private_chat", invite=[bob.user_id], room_version="11")
    pl = (await hs.state(room_id, "m.room.power_levels")).content
    assert pl["users"] == {alice.user_id: 100, bob.user_id: 100}
    create = await hs.state(room_id, "m.room.create")
    assert "additional_creators" not in create.content


async def test_initial_state_overrides_preset_and_name_overrides_initial_state(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, preset="public_chat", name="Real name", initial_state=[
        {"type": "m.room.join_rules", "content": {"join_rule": "invite"}},
        {"type": "m.room.name", "content": {"name": "Overridden"}},
        {"type": "org.example.custom", "state_key": "k", "content": {"x": 1}},
    ])
    assert (await hs.state(room_id, "m.room.join_rules")).content == {"join_rule": "invite"}
    assert (await hs.state(room_id, "m.room.name")).content == {"name": "Real name"}
    assert (await hs.state(room_id, "org.example.custom", "k")).content == {"x": 1}
    evs = await hs.hearth.core.event_store.events_in_room(room_id, "m.room.join_rules")
    assert len(evs) == 1  # the preset's join rule was not sent


async def test_power_level_content_override(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, room_version="10", power_level_content_override={
        "users": {alice.user_id: 100, bob.user_id: 50}, "events_default": 10})
    pl = (await hs.state(room_id, "m.room.power_levels")).content
    assert pl["users"] == {alice.user_id: 100, bob.user_id: 50}
    assert pl["events_default"] == 10
    assert pl["state_default"] == 50


async def test_invalid_initial_power_levels_is_invalid_room_state(hs):
    alice = await hs.user("alice")
    # v12 creators cannot be listed in users.
    await hs.error("POST", "/createRoom", alice, {"power_level_content_override": {"users": {alice.user_id: 100}}},
                   "M_INVALID_ROOM_STATE", 400)
    # The creator lowers their own level below what the name needs.
    await hs.error("POST", "/createRoom", alice, {
        "room_version": "10", "name": "x",
        "power_level_content_override": {"users": {alice.user_id: 0}}}, "M_INVALID_ROOM_STATE", 400)
    # The alias of a room that could not be set up is free again.
    await hs.error("POST", "/createRoom", alice, {
        "room_version": "10", "room_alias_name": "broken",
        "power_level_content_override": {"users": {alice.user_id: 0}}}, "M_INVALID_ROOM_STATE", 400)
    await hs.error("GET", "/directory/room/%23broken:hearth.test", None, None, "M_NOT_FOUND", 404)


async def test_room_type_from_creation_content(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, creation_content={"type": "m.space", "m.federate": False,
                                                            "creator": "@mallory:evil.test"})
    create = await hs.state(room_id, "m.room.create")
    assert create.content["type"] == "m.space"
    assert create.content["m.federate"] is False
    assert "creator" not in create.content  # the server overwrites it; v12 has none


async def test_v12_creation_errors_as_the_spec_gives_them(hs):
    """createRoom's 400s for room version 12 (MSC4289/MSC4291): a create event that would fail its
    auth rule is a malformed body (M_BAD_JSON); power levels naming a creator are an invalid
    initial state (M_INVALID_ROOM_STATE); an unknown version is M_UNSUPPORTED_ROOM_VERSION."""
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    for bad in (["not-a-user"], "@bob:hearth.test", [3], [bob.user_id, "@"]):
        await hs.error("POST", "/createRoom", alice, {"room_version": "12",
                                                     "creation_content": {"additional_creators": bad}},
                       "M_BAD_JSON", 400)
    await hs.error("POST", "/createRoom", alice, {
        "room_version": "12", "creation_content": {"additional_creators": [bob.user_id]},
        "power_level_content_override": {"users": {bob.user_id: 50}}}, "M_INVALID_ROOM_STATE", 400)
    await hs.error("POST", "/createRoom", alice, {"room_version": "13"}, "M_UNSUPPORTED_ROOM_VERSION", 400)
    # Before v12, additional_creators means nothing to the auth rules: it is kept as given.
    room_id = await hs.create_room(alice, room_version="11", creation_content={"additional_creators": ["x"]})
    assert (await hs.state(room_id, "m.room.create")).content["additional_creators"] == ["x"]
    # Upgrades check theirs the same way.
    room_id = await hs.create_room(alice)
    await hs.error("POST", f"/rooms/{room_id}/upgrade", alice, {"new_version": "12", "additional_creators": ["x"]},
                   "M_BAD_JSON", 400)
