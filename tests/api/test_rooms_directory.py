"""Room aliases and the published room directory."""
from __future__ import annotations


async def test_alias_put_get_delete(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat")
    path = "/directory/room/%23family:hearth.test"
    await hs.error("GET", path, None, None, "M_NOT_FOUND", 404)
    await hs.ok("PUT", path, alice, {"room_id": room_id})
    assert await hs.ok("GET", path) == {"room_id": room_id, "servers": ["hearth.test"]}
    # Taken.
    other = await hs.create_room(alice)
    await hs.error("PUT", path, alice, {"room_id": other}, "M_UNKNOWN", 409)
    # Invalid aliases, other servers, unknown rooms, non-members.
    await hs.error("PUT", "/directory/room/family", alice, {"room_id": room_id}, "M_INVALID_PARAM", 400)
    await hs.error("GET", "/directory/room/family", None, None, "M_INVALID_PARAM", 400)
    await hs.error("PUT", "/directory/room/%23x:elsewhere.test", alice, {"room_id": room_id}, "M_INVALID_PARAM", 400)
    await hs.error("PUT", "/directory/room/%23x:hearth.test", alice, {"room_id": "!nope:hearth.test"},
                   "M_NOT_FOUND", 404)
    await hs.error("PUT", "/directory/room/%23x:hearth.test", bob, {"room_id": room_id}, "M_FORBIDDEN", 403)
    await hs.error("PUT", "/directory/room/%23x:hearth.test", alice, {}, "M_BAD_JSON", 400)
    # Only the creator of the alias or someone who may set the canonical alias deletes it.
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    await hs.error("DELETE", path, bob, None, "M_FORBIDDEN", 403)
    await hs.ok("DELETE", path, alice)
    await hs.error("GET", path, None, None, "M_NOT_FOUND", 404)
    await hs.error("DELETE", path, alice, None, "M_NOT_FOUND", 404)


async def test_alias_creator_may_delete_without_power(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    await hs.ok("PUT", "/directory/room/%23bobs:hearth.test", bob, {"room_id": room_id})
    await hs.ok("DELETE", "/directory/room/%23bobs:hearth.test", bob)


async def test_deleting_the_canonical_alias_updates_the_event(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, room_alias_name="main")
    await hs.ok("PUT", "/directory/room/%23alt:hearth.test", alice, {"room_id": room_id})
    await hs.ok("PUT", f"/rooms/{room_id}/state/m.room.canonical_alias", alice,
                {"alias": "#main:hearth.test", "alt_aliases": ["#alt:hearth.test"]})
    await hs.ok("DELETE", "/directory/room/%23main:hearth.test", alice)
    assert (await hs.state(room_id, "m.room.canonical_alias")).content == {"alt_aliases": ["#alt:hearth.test"]}


async def test_local_aliases(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, room_alias_name="b")
    await hs.ok("PUT", "/directory/room/%23a:hearth.test", alice, {"room_id": room_id})
    assert await hs.ok("GET", f"/rooms/{room_id}/aliases", alice) == {"aliases": ["#a:hearth.test", "#b:hearth.test"]}
    await hs.error("GET", f"/rooms/{room_id}/aliases", bob, None, "M_FORBIDDEN", 403)
    await hs.error("GET", "/rooms/!nope:hearth.test/aliases", bob, None, "M_FORBIDDEN", 403)
    # World-readable rooms show their aliases to anyone.
    await hs.ok("PUT", f"/rooms/{room_id}/state/m.room.history_visibility", alice,
                {"history_visibility": "world_readable"})
    assert len((await hs.ok("GET", f"/rooms/{room_id}/aliases", bob))["aliases"]) == 2


async def test_room_visibility_in_directory(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat")
    path = f"/directory/list/room/{room_id}"
    assert await hs.ok("GET", path) == {"visibility": "private"}
    await hs.error("PUT", path, bob, {"visibility": "public"}, "M_FORBIDDEN", 403)
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    await hs.error("PUT", path, bob, {"visibility": "public"}, "M_FORBIDDEN", 403)
    await hs.ok("PUT", path, alice, {})  # defaults to public
    assert await hs.ok("GET", path) == {"visibility": "public"}
    await hs.error("PUT", path, alice, {"visibility": "hidden"}, "M_BAD_JSON", 400)
    await hs.ok("PUT", path, alice, {"visibility": "private"})
    assert await hs.ok("GET", path) == {"visibility": "private"}
    await hs.error("GET", "/directory/list/room/!nope:hearth.test", None, None, "M_NOT_FOUND", 404)
    await hs.error("PUT", "/directory/list/room/!nope:hearth.test", alice, {}, "M_NOT_FOUND", 404)


async def test_public_rooms_chunk_pagination_and_search(hs):
    users = [await hs.user(f"u{i}") for i in range(4)]
    alice = users[0]
    big = await hs.create_room(alice, visibility="public", name="Big room", topic="Lots of people",
                               room_alias_name="big")
    for u in users[1:]:
        await hs.ok("POST", f"/join/{big}", u, {})
    mid = await hs.create_room(alice, visibility="public", name="Gardening")
    await hs.ok("POST", f"/join/{mid}", users[1], {})
    space = await hs.create_room(alice, visibility="public", name="Family space", creation_content={"type": "m.space"},
                                 initial_state=[{"type": "m.room.history_visibility",
                                                 "content": {"history_visibility": "world_readable"}},
                                                {"type": "m.room.avatar", "content": {"url": "mxc://hearth.test/s"}}])
    await hs.create_room(alice, name="Secret")  # not published

    everything = await hs.ok("GET", "/publicRooms")
    assert [c["room_id"] for c in everything["chunk"]] == [big, mid, space]
    assert everything["total_room_count_estimate"] == 3
    assert "next_batch" not in everything and "prev_batch" not in everything
    first = everything["chunk"][0]
    assert first == {"room_id": big, "num_joined_members": 4, "name": "Big room", "topic": "Lots of people",
                     "canonical_alias": "#big:hearth.test", "world_readable": False, "guest_can_join": False,
                     "join_rule": "public"}
    assert everything["chunk"][2]["room_type"] == "m.space"
    assert everything["chunk"][2]["world_readable"] is True
    assert everything["chunk"][2]["avatar_url"] == "mxc://hearth.test/s"

    page1 = await hs.ok("GET", "/publicRooms?limit=2")
    assert [c["room_id"] for c in page1["chunk"]] == [big, mid]
    page2 = await hs.ok("GET", f"/publicRooms?limit=2&since={page1['next_batch']}")
    assert [c["room_id"] for c in page2["chunk"]] == [space]
    assert "next_batch" not in page2
    back = await hs.ok("GET", f"/publicRooms?limit=2&since={page2['prev_batch']}")
    assert back["chunk"] == page1["chunk"]

    found = await hs.ok("POST", "/publicRooms", alice, {"filter": {"generic_search_term": "GARDEN"}})
    assert [c["room_id"] for c in found["chunk"]] == [mid]
    found = await hs.ok("POST", "/publicRooms", alice, {"filter": {"generic_search_term": "#big"}})
    assert [c["room_id"] for c in found["chunk"]] == [big]
    spaces = await hs.ok("POST", "/publicRooms", alice, {"filter": {"room_types": ["m.space"]}})
    assert [c["room_id"] for c in spaces["chunk"]] == [space]
    plain = await hs.ok("POST", "/publicRooms", alice, {"filter": {"room_types": [None]}, "limit": 1})
    assert [c["room_id"] for c in plain["chunk"]] == [big]
    plain2 = await hs.ok("POST", "/publicRooms", alice, {"filter": {"room_types": [None]}, "limit": 1,
                                                         "since": plain["next_batch"]})
    assert [c["room_id"] for c in plain2["chunk"]] == [mid]

    await hs.error("GET", "/publicRooms?since=garbage", None, None, "M_INVALID_PARAM", 400)
    await hs.error("GET", "/publicRooms?limit=-1", None, None, "M_INVALID_PARAM", 400)
    await hs.error("GET", "/publicRooms?limit=many", None, None, "M_INVALID_PARAM", 400)
    await hs.error("POST", "/publicRooms", None, {}, "M_MISSING_TOKEN", 401)


async def test_public_rooms_show_redacted_name_as_unset(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, visibility="public", name="Oops")
    name_event = await hs.state(room_id, "m.room.name")
    await hs.ok("PUT", f"/rooms/{room_id}/redact/{name_event.event_id}/r", alice, {})
    chunk = (await hs.ok("GET", "/publicRooms"))["chunk"][0]
    assert "name" not in chunk


async def test_public_rooms_of_a_third_party_network_are_none(hs):
    alice = await hs.user("alice")
    await hs.create_room(alice, visibility="public")
    body = await hs.ok("POST", "/publicRooms", alice, {"third_party_instance_id": "irc-libera"})
    assert body["chunk"] == []
    body = await hs.ok("POST", "/publicRooms", alice, {"third_party_instance_id": "irc-libera",
                                                       "include_all_networks": True})
    assert len(body["chunk"]) == 1
