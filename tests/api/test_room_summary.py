"""GET /_matrix/client/v1/room_summary/{roomIdOrAlias} (room_summary.yaml, MSC3266) and the
unstable path Cinny calls: who may see which room, with and without a token."""
from __future__ import annotations

from urllib.parse import quote

import pytest

V1 = "/_matrix/client/v1/room_summary/"
UNSTABLE = "/_matrix/client/unstable/im.nheko.summary/rooms/{}/summary"


async def summary(hs, room, user=None, url=V1 + "{}"):
    if "{}" not in url:
        url += "{}"
    r = await hs.client.get(url.format(quote(room)), headers=user.headers if user else {})
    return r.status_code, await r.get_json()


async def set_state(hs, user, room_id, type_, content, key=""):
    await hs.ok("PUT", f"/rooms/{room_id}/state/{type_}/{key}", user, content)


async def test_public_room_by_alias_with_and_without_a_token(hs):
    alice, bob = await hs.user("alice"), await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat", name="Hall", topic="Come in",
                                   room_alias_name="hall")
    status, body = await summary(hs, "#hall:hearth.test")
    assert status == 200, body
    assert body["room_id"] == room_id
    assert (body["name"], body["topic"], body["join_rule"]) == ("Hall", "Come in", "public")
    assert body["num_joined_members"] == 1
    assert body["guest_can_join"] is False and body["world_readable"] is False
    assert body["canonical_alias"] == "#hall:hearth.test"
    assert body["room_version"]
    assert "membership" not in body  # spec: absent when called unauthenticated
    status, body = await summary(hs, room_id, alice)
    assert (status, body["membership"]) == (200, "join")
    status, body = await summary(hs, room_id, bob)
    assert (status, body["membership"]) == (200, "leave")


async def test_private_room_is_seen_by_members_and_invitees_only(hs):
    alice, bob, carol = await hs.user("alice"), await hs.user("bob"), await hs.user("carol")
    room_id = await hs.create_room(alice, preset="private_chat", name="Secret")
    await hs.ok("POST", f"/rooms/{room_id}/invite", alice, {"user_id": bob.user_id})
    status, body = await summary(hs, room_id, bob)
    assert (status, body["membership"], body["name"]) == (200, "invite", "Secret")
    for who in (carol, None):
        status, body = await summary(hs, room_id, who)
        assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await summary(hs, room_id, alice)
    assert (status, body["join_rule"], body["membership"]) == (200, "invite", "join")


async def test_world_readable_and_knockable_rooms_are_open_to_anyone(hs):
    alice = await hs.user("alice")
    readable = await hs.create_room(alice, preset="private_chat")
    await set_state(hs, alice, readable, "m.room.history_visibility", {"history_visibility": "world_readable"})
    knock = await hs.create_room(alice, preset="private_chat", room_version="10")
    await set_state(hs, alice, knock, "m.room.join_rules", {"join_rule": "knock"})
    status, body = await summary(hs, readable)
    assert (status, body["world_readable"]) == (200, True)
    status, body = await summary(hs, knock)
    assert (status, body["join_rule"]) == (200, "knock")


async def test_restricted_room_is_seen_by_members_of_an_allowed_room(hs):
    alice, bob, carol = await hs.user("alice"), await hs.user("bob"), await hs.user("carol")
    space = await hs.create_room(alice, preset="public_chat", creation_content={"type": "m.space"})
    room_id = await hs.create_room(alice, preset="private_chat", room_version="10")
    await set_state(hs, alice, room_id, "m.room.join_rules",
                    {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space}]})
    await hs.ok("POST", f"/join/{space}", bob)
    status, body = await summary(hs, room_id, bob)
    assert status == 200, body
    assert (body["join_rule"], body["allowed_room_ids"], body["membership"]) == ("restricted", [space], "leave")
    status, body = await summary(hs, room_id, carol)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await summary(hs, space)
    assert (status, body["room_type"]) == (200, "m.space")


@pytest.mark.parametrize("url", [UNSTABLE, "/_matrix/client/unstable/im.nheko.summary/summary/"])
async def test_unstable_paths_answer_the_same(hs, url):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, preset="public_chat", name="Hall")
    status, body = await summary(hs, room_id, alice, url)
    assert (status, body["name"], body["membership"]) == (200, "Hall", "join")


async def test_unknown_rooms_aliases_and_bad_ids(hs):
    alice = await hs.user("alice")
    status, body = await summary(hs, "!nowhere:hearth.test", alice)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await summary(hs, "#nowhere:hearth.test")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = await summary(hs, "not-a-room", alice)
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    r = await hs.client.get(V1 + quote("!x:hearth.test"), headers={"Authorization": "Bearer nope"})
    assert (r.status_code, (await r.get_json())["errcode"]) == (401, "M_UNKNOWN_TOKEN")
