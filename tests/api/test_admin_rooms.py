"""Admin API, rooms: list, details, members, state, block, delete v1/v2 and delete status."""
from __future__ import annotations

import asyncio

from tests.api.synapse_admin import admin_call, admin_ok


async def wait_for_delete(hs, boss, delete_id: str) -> dict:
    for _ in range(200):
        status = await admin_ok(hs, "GET", f"/v2/rooms/delete_status/{delete_id}", boss)
        if status["status"] in ("complete", "failed"):
            return status
        await asyncio.sleep(0.02)
    raise AssertionError("room deletion did not finish")


async def test_list_rooms_fields_order_search_and_paging(hs, boss):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    big = await hs.create_room(alice, name="Family chat", preset="public_chat", room_alias_name="family",
                               visibility="public")
    await hs.ok("POST", f"/join/{big}", bob, {})
    small = await hs.create_room(alice, name="Alpha", initial_state=[
        {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
    space = await hs.create_room(bob, name="Zed space", creation_content={"type": "m.space"})
    body = await admin_ok(hs, "GET", "/v1/rooms", boss)
    assert body["total_rooms"] == 3 and body["offset"] == 0 and "next_batch" not in body
    assert [r["name"] for r in body["rooms"]] == ["Alpha", "Family chat", "Zed space"]
    family = body["rooms"][1]
    assert family == {
        "room_id": big, "name": "Family chat", "canonical_alias": "#family:hearth.test", "joined_members": 2,
        "joined_local_members": 2, "version": family["version"], "creator": "@alice:hearth.test",
        "encryption": None, "federatable": True, "public": True, "join_rules": "public",
        "guest_access": "forbidden", "history_visibility": "shared", "state_events": family["state_events"],
        "room_type": None}
    assert family["state_events"] >= 7
    assert body["rooms"][0]["encryption"] == "m.megolm.v1.aes-sha2" and body["rooms"][0]["public"] is False
    assert body["rooms"][2]["room_type"] == "m.space"
    by_size = await admin_ok(hs, "GET", "/v1/rooms?order_by=joined_members", boss)
    assert by_size["rooms"][0]["room_id"] == big
    reversed_ = await admin_ok(hs, "GET", "/v1/rooms?order_by=name&dir=b", boss)
    assert [r["room_id"] for r in reversed_["rooms"]] == [space, big, small]
    page1 = await admin_ok(hs, "GET", "/v1/rooms?limit=2", boss)
    assert len(page1["rooms"]) == 2 and page1["next_batch"] == 2
    page2 = await admin_ok(hs, "GET", f"/v1/rooms?limit=2&from={page1['next_batch']}", boss)
    assert [r["room_id"] for r in page2["rooms"]] == [space] and page2["prev_batch"] == 0
    assert "next_batch" not in page2
    search = await admin_ok(hs, "GET", "/v1/rooms?search_term=family", boss)
    assert [r["room_id"] for r in search["rooms"]] == [big] and search["total_rooms"] == 1
    by_id = await admin_ok(hs, "GET", f"/v1/rooms?search_term={space}", boss)
    assert [r["room_id"] for r in by_id["rooms"]] == [space]
    public = await admin_ok(hs, "GET", "/v1/rooms?public_rooms=true", boss)
    assert [r["room_id"] for r in public["rooms"]] == [big]
    for bad in ("order_by=nope", "dir=x", "from=-3", "limit=lots", "public_rooms=1"):
        status, err = await admin_call(hs, "GET", f"/v1/rooms?{bad}", boss)
        assert (status, err["errcode"]) == (400, "M_INVALID_PARAM"), bad


async def test_room_details_members_and_state(hs, boss):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, name="Kitchen", topic="What is for dinner", preset="public_chat")
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    details = await admin_ok(hs, "GET", f"/v1/rooms/{room_id}", boss)
    assert details["name"] == "Kitchen" and details["topic"] == "What is for dinner"
    assert details["joined_members"] == 2 and details["joined_local_devices"] == 2
    assert details["forgotten"] is False and details["tombstoned"] is False and details["replacement_room"] is None
    members = await admin_ok(hs, "GET", f"/v1/rooms/{room_id}/members", boss)
    assert sorted(members["members"]) == ["@alice:hearth.test", "@bob:hearth.test"] and members["total"] == 2
    state = await admin_ok(hs, "GET", f"/v1/rooms/{room_id}/state", boss)
    types = {ev["type"] for ev in state["state"]}
    assert {"m.room.create", "m.room.member", "m.room.name", "m.room.topic"} <= types
    assert all("event_id" in ev and "content" in ev for ev in state["state"])
    only_members = await admin_ok(hs, "GET", f"/v1/rooms/{room_id}/state?type=m.room.member", boss)
    assert sorted(ev["state_key"] for ev in only_members["state"]) == ["@alice:hearth.test", "@bob:hearth.test"]
    for path in ("/v1/rooms/!unknown:hearth.test", "/v1/rooms/!unknown:hearth.test/members",
                 "/v1/rooms/!unknown:hearth.test/state"):
        status, err = await admin_call(hs, "GET", path, boss)
        assert (status, err["errcode"]) == (404, "M_NOT_FOUND"), path
    status, err = await admin_call(hs, "GET", "/v1/rooms/not-a-room", boss)
    assert (status, err["errcode"]) == (400, "M_INVALID_PARAM")


async def test_block_and_unblock_a_room(hs, boss):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat")
    assert await admin_ok(hs, "GET", f"/v1/rooms/{room_id}/block", boss) == {"block": False}
    assert await admin_ok(hs, "PUT", f"/v1/rooms/{room_id}/block", boss, {"block": True}) == {"block": True}
    assert await admin_ok(hs, "GET", f"/v1/rooms/{room_id}/block", boss) == {
        "block": True, "user_id": "@boss:hearth.test"}
    await hs.error("POST", f"/join/{room_id}", bob, {}, "M_FORBIDDEN", 403)
    await hs.error("POST", f"/rooms/{room_id}/invite", alice, {"user_id": bob.user_id}, "M_FORBIDDEN", 403)
    await admin_ok(hs, "PUT", f"/v1/rooms/{room_id}/block", boss, {"block": False})
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    # a room this server has never seen can be blocked in advance
    assert await admin_ok(hs, "PUT", "/v1/rooms/!elsewhere:other.org/block", boss, {"block": True}) == {"block": True}
    await hs.error("POST", "/join/!elsewhere:other.org", bob, {}, "M_FORBIDDEN", 403)
    status, err = await admin_call(hs, "PUT", f"/v1/rooms/{room_id}/block", boss, {})
    assert (status, err["errcode"]) == (400, "M_MISSING_PARAM")
    status, err = await admin_call(hs, "PUT", f"/v1/rooms/{room_id}/block", boss, {"block": "yes"})
    assert (status, err["errcode"]) == (400, "M_INVALID_PARAM")


async def test_delete_v2_with_block_and_purge(hs, boss):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, name="Bad room", preset="public_chat", room_alias_name="bad",
                                   visibility="public")
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    await hs.send(bob, room_id)
    body = await admin_ok(hs, "DELETE", f"/v2/rooms/{room_id}", boss, {"block": True, "purge": True})
    status = await wait_for_delete(hs, boss, body["delete_id"])
    assert status["status"] == "complete", status
    assert status["room_id"] == room_id and status["delete_id"] == body["delete_id"]
    assert sorted(status["shutdown_room"]["kicked_users"]) == ["@alice:hearth.test", "@bob:hearth.test"]
    assert status["shutdown_room"]["failed_to_kick_users"] == [] and status["shutdown_room"]["new_room_id"] is None
    by_room = await admin_ok(hs, "GET", f"/v2/rooms/{room_id}/delete_status", boss)
    assert [s["delete_id"] for s in by_room["results"]] == [body["delete_id"]]
    # gone: not listed, no details, alias freed, nothing in the directory, rejoin refused
    assert (await admin_ok(hs, "GET", "/v1/rooms", boss))["total_rooms"] == 0
    status_code, err = await admin_call(hs, "GET", f"/v1/rooms/{room_id}", boss)
    assert status_code == 404
    await hs.error("GET", "/directory/room/%23bad:hearth.test", alice, None, "M_NOT_FOUND", 404)
    assert (await hs.ok("GET", "/publicRooms", alice))["chunk"] == []
    await hs.error("POST", f"/join/{room_id}", bob, {}, "M_FORBIDDEN", 403)
    assert await hs.hearth.core.db.fetchval("SELECT COUNT(*) FROM events WHERE room_id = ?", (room_id,)) == 0
    # the users' clients still work
    await hs.ok("GET", "/sync", bob)
    await hs.ok("GET", "/joined_rooms", alice)


async def test_delete_without_purge_kicks_and_new_room_takes_users_and_aliases(hs, boss):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat", room_alias_name="hall")
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    body = await admin_ok(hs, "DELETE", f"/v2/rooms/{room_id}", boss, {
        "purge": False, "new_room_user_id": "@boss:hearth.test", "room_name": "Moved", "message": "This room closed"})
    status = await wait_for_delete(hs, boss, body["delete_id"])
    assert status["status"] == "complete", status
    new_room = status["shutdown_room"]["new_room_id"]
    assert new_room and status["shutdown_room"]["local_aliases"] == ["#hall:hearth.test"]
    assert await hs.membership(room_id, alice) == "leave" and await hs.membership(room_id, bob) == "leave"
    assert await hs.membership(new_room, bob) == "join"
    resolved = await hs.ok("GET", "/directory/room/%23hall:hearth.test", alice)
    assert resolved["room_id"] == new_room
    # not blocked and not purged: an admin still sees it, and people may come back
    assert (await admin_ok(hs, "GET", f"/v1/rooms/{room_id}", boss))["joined_members"] == 0
    await hs.ok("POST", f"/join/{room_id}", bob, {})


async def test_delete_v1_is_synchronous_and_blocks_unknown_rooms(hs, boss):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice)
    body = await admin_ok(hs, "DELETE", f"/v1/rooms/{room_id}", boss, {"block": False, "purge": True})
    assert body == {"kicked_users": ["@alice:hearth.test"], "failed_to_kick_users": [], "local_aliases": [],
                    "new_room_id": None}
    assert await hs.hearth.core.event_store.room_version(room_id) is None
    body = await admin_ok(hs, "DELETE", "/v1/rooms/!never:other.org", boss, {"block": True})
    assert body["kicked_users"] == []
    assert (await admin_ok(hs, "GET", "/v1/rooms/!never:other.org/block", boss))["block"] is True
    status, err = await admin_call(hs, "DELETE", "/v1/rooms/!never2:other.org", boss, {})
    assert (status, err["errcode"]) == (400, "M_INVALID_PARAM")


async def test_delete_errors(hs, boss):
    status, err = await admin_call(hs, "DELETE", "/v2/rooms/!unknown:hearth.test", boss, {})
    assert (status, err["errcode"]) == (404, "M_NOT_FOUND")
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice)
    for body in ({"block": "yes"}, {"purge": 1}, {"new_room_user_id": "@x:other.org"},
                 {"new_room_user_id": "nobody"}):
        status, err = await admin_call(hs, "DELETE", f"/v2/rooms/{room_id}", boss, body)
        assert (status, err["errcode"]) == (400, "M_INVALID_PARAM"), body
    status, err = await admin_call(hs, "GET", "/v2/rooms/delete_status/nope", boss)
    assert (status, err["errcode"]) == (404, "M_NOT_FOUND")
    status, err = await admin_call(hs, "GET", f"/v2/rooms/{room_id}/delete_status", boss)
    assert (status, err["errcode"]) == (404, "M_NOT_FOUND")
