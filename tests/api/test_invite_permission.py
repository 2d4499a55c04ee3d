"""Invite permission (spec v1.18, MSC4380): `m.invite_permission_config` with `default_action:
block` makes every invite to the user answer 403 M_INVITE_BLOCKED, and /sync leave out the
invites they already hold."""
from __future__ import annotations

BLOCK = {"default_action": "block"}


async def set_config(hs, user, content: dict) -> None:
    await hs.ok("PUT", f"/user/{user.user_id}/account_data/m.invite_permission_config", user, content)


async def test_blocked_invites_answer_invite_blocked_everywhere(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    carol = await hs.user("carol")
    room_id = await hs.create_room(alice)
    await set_config(hs, bob, BLOCK)
    await hs.error("POST", f"/rooms/{room_id}/invite", alice, {"user_id": bob.user_id}, "M_INVITE_BLOCKED", 403)
    await hs.error("PUT", f"/rooms/{room_id}/state/m.room.member/{bob.user_id}", alice, {"membership": "invite"},
                   "M_INVITE_BLOCKED", 403)
    assert await hs.membership(room_id, bob) is None
    # createRoom: the room is made, carol is invited, and the answer is bob's 403.
    before = set((await hs.ok("GET", "/joined_rooms", alice))["joined_rooms"])
    await hs.error("POST", "/createRoom", alice, {"invite": [bob.user_id, carol.user_id]}, "M_INVITE_BLOCKED", 403)
    made = set((await hs.ok("GET", "/joined_rooms", alice))["joined_rooms"]) - before
    assert len(made) == 1
    (new_room,) = made
    assert await hs.membership(new_room, carol) == "invite"
    assert await hs.membership(new_room, bob) is None
    # Anything but "block" (or no default_action) means invites as normal.
    for content in ({}, {"default_action": "allow"}, {"default_action": 1}):
        await set_config(hs, bob, content)
        await hs.ok("POST", f"/rooms/{room_id}/invite", alice, {"user_id": bob.user_id})
        await hs.ok("POST", f"/rooms/{room_id}/leave", bob, {})


async def test_sync_leaves_out_invites_while_blocked(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice)
    await hs.ok("POST", f"/rooms/{room_id}/invite", alice, {"user_id": bob.user_id})
    assert room_id in (await hs.ok("GET", "/sync", bob))["rooms"]["invite"]
    await set_config(hs, bob, BLOCK)
    assert (await hs.ok("GET", "/sync", bob))["rooms"]["invite"] == {}
    # Other endpoints are not affected: the invite is in the room's state.
    assert (await hs.state(room_id, "m.room.member", bob.user_id)).content["membership"] == "invite"
    await set_config(hs, bob, {})
    assert room_id in (await hs.ok("GET", "/sync", bob))["rooms"]["invite"]
