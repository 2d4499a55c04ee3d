"""Invite, join, leave, forget, kick, ban, unban and knock, with their forbidden cases."""
from __future__ import annotations

import pytest


async def test_invite_join_leave(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob", displayname="Bob")
    room_id = await hs.create_room(alice)
    # Invite-only: bob cannot join uninvited.
    body = await hs.error("POST", f"/rooms/{room_id}/join", bob, {}, "M_FORBIDDEN", 403)
    assert "invited" in body["error"]
    await hs.ok("POST", f"/rooms/{room_id}/invite", alice, {"user_id": bob.user_id, "reason": "Welcome"})
    invite = await hs.state(room_id, "m.room.member", bob.user_id)
    assert invite.content == {"membership": "invite", "displayname": "Bob", "reason": "Welcome"}
    # Inviting again succeeds without a new event.
    await hs.ok("POST", f"/rooms/{room_id}/invite", alice, {"user_id": bob.user_id})
    assert (await hs.state(room_id, "m.room.member", bob.user_id)).event_id == invite.event_id
    body = await hs.ok("POST", f"/rooms/{room_id}/join", bob, {"reason": "hi"})
    assert body == {"room_id": room_id}
    join = await hs.state(room_id, "m.room.member", bob.user_id)
    assert join.content == {"membership": "join", "displayname": "Bob", "reason": "hi"}
    # Joined users cannot be invited.
    await hs.error("POST", f"/rooms/{room_id}/invite", alice, {"user_id": bob.user_id}, "M_FORBIDDEN", 403)
    await hs.ok("POST", f"/rooms/{room_id}/leave", bob, {"reason": "bye"})
    leave = await hs.state(room_id, "m.room.member", bob.user_id)
    assert leave.content == {"membership": "leave", "reason": "bye"}
    # Invite-only again: bob needs a new invite.
    await hs.error("POST", f"/rooms/{room_id}/join", bob, {}, "M_FORBIDDEN", 403)


async def test_invite_forbidden_cases(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    carol = await hs.user("carol")
    room_id = await hs.create_room(alice, preset="public_chat")
    # Not in the room.
    await hs.error("POST", f"/rooms/{room_id}/invite", bob, {"user_id": carol.user_id}, "M_FORBIDDEN", 403)
    # In a public_chat room inviting needs PL 50.
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    await hs.error("POST", f"/rooms/{room_id}/invite", bob, {"user_id": carol.user_id}, "M_FORBIDDEN", 403)
    # Unknown local user, bad user ID, unknown room.
    await hs.error("POST", f"/rooms/{room_id}/invite", alice, {"user_id": "@nobody:hearth.test"}, "M_FORBIDDEN", 403)
    await hs.error("POST", f"/rooms/{room_id}/invite", alice, {"user_id": "nobody"}, "M_INVALID_PARAM", 400)
    await hs.error("POST", f"/rooms/{room_id}/invite", alice, {}, "M_BAD_JSON", 400)
    await hs.error("POST", "/rooms/!nope:hearth.test/invite", alice, {"user_id": carol.user_id}, "M_NOT_FOUND", 404)


async def test_reject_invite(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, invite=[bob.user_id])
    await hs.ok("POST", f"/rooms/{room_id}/leave", bob, {})
    assert await hs.membership(room_id, bob) == "leave"
    # Leaving twice is fine; leaving a room one was never in is not.
    await hs.ok("POST", f"/rooms/{room_id}/leave", bob, {})
    carol = await hs.user("carol")
    await hs.error("POST", f"/rooms/{room_id}/leave", carol, {}, "M_FORBIDDEN", 403)
    await hs.error("POST", "/rooms/!nope:hearth.test/leave", carol, {}, "M_NOT_FOUND", 404)


async def test_join_by_alias_and_unknown_rooms(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat", room_alias_name="hall")
    assert (await hs.ok("POST", "/join/%23hall:hearth.test", bob, {})) == {"room_id": room_id}
    assert await hs.membership(room_id, bob) == "join"
    # Joining again is a no-op.
    before = (await hs.state(room_id, "m.room.member", bob.user_id)).event_id
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    assert (await hs.state(room_id, "m.room.member", bob.user_id)).event_id == before
    await hs.error("POST", "/join/%23nowhere:hearth.test", bob, {}, "M_NOT_FOUND", 404)
    await hs.error("POST", "/join/!nowhere:hearth.test", bob, {}, "M_NOT_FOUND", 404)
    await hs.error("POST", "/join/nowhere", bob, {}, "M_INVALID_PARAM", 400)


async def test_kicked_user_may_rejoin_public_room_but_banned_may_not(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    carol = await hs.user("carol")
    room_id = await hs.create_room(alice, preset="public_chat")
    for u in (bob, carol):
        await hs.ok("POST", f"/join/{room_id}", u, {})
    # bob (PL 0) cannot kick or ban.
    await hs.error("POST", f"/rooms/{room_id}/kick", bob, {"user_id": carol.user_id}, "M_FORBIDDEN", 403)
    await hs.error("POST", f"/rooms/{room_id}/ban", bob, {"user_id": carol.user_id}, "M_FORBIDDEN", 403)
    # Nobody can kick the v12 creator.
    await hs.error("POST", f"/rooms/{room_id}/kick", bob, {"user_id": alice.user_id}, "M_FORBIDDEN", 403)

    await hs.ok("POST", f"/rooms/{room_id}/kick", alice, {"user_id": bob.user_id, "reason": "cool off"})
    kick = await hs.state(room_id, "m.room.member", bob.user_id)
    assert kick.sender == alice.user_id
    assert kick.content == {"membership": "leave", "reason": "cool off"}
    # Kicking someone not in the room.
    await hs.error("POST", f"/rooms/{room_id}/kick", alice, {"user_id": bob.user_id}, "M_FORBIDDEN", 403)
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    assert await hs.membership(room_id, bob) == "join"

    await hs.ok("POST", f"/rooms/{room_id}/ban", alice, {"user_id": carol.user_id, "reason": "spam"})
    assert (await hs.state(room_id, "m.room.member", carol.user_id)).content == {"membership": "ban", "reason": "spam"}
    body = await hs.error("POST", f"/join/{room_id}", carol, {}, "M_FORBIDDEN", 403)
    assert "banned" in body["error"]
    await hs.error("POST", f"/rooms/{room_id}/invite", alice, {"user_id": carol.user_id}, "M_FORBIDDEN", 403)
    await hs.error("POST", f"/rooms/{room_id}/leave", carol, {}, "M_FORBIDDEN", 403)
    # Unban: bob cannot, alice can; then carol may join again.
    await hs.error("POST", f"/rooms/{room_id}/unban", bob, {"user_id": carol.user_id}, "M_FORBIDDEN", 403)
    await hs.ok("POST", f"/rooms/{room_id}/unban", alice, {"user_id": carol.user_id})
    assert await hs.membership(room_id, carol) == "leave"
    await hs.error("POST", f"/rooms/{room_id}/unban", alice, {"user_id": carol.user_id}, "M_FORBIDDEN", 403)
    await hs.ok("POST", f"/join/{room_id}", carol, {})


async def test_ban_someone_never_in_the_room(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice)
    await hs.ok("POST", f"/rooms/{room_id}/ban", alice, {"user_id": "@stranger:elsewhere.test"})
    assert await hs.hearth.core.event_store.membership(room_id, "@stranger:elsewhere.test") == "ban"


@pytest.mark.parametrize("version", ["7", "10", "12"])
async def test_knock_then_accept_or_deny(hs, version):
    alice = await hs.user("alice")
    bob = await hs.user("bob", displayname="Bob")
    carol = await hs.user("carol")
    room_id = await hs.create_room(alice, room_version=version, room_alias_name="door", initial_state=[
        {"type": "m.room.join_rules", "content": {"join_rule": "knock"}}])
    # Knocking does not let one join.
    await hs.error("POST", f"/rooms/{room_id}/join", bob, {}, "M_FORBIDDEN", 403)
    assert await hs.ok("POST", "/knock/%23door:hearth.test", bob, {"reason": "let me in"}) == {"room_id": room_id}
    knock = await hs.state(room_id, "m.room.member", bob.user_id)
    assert knock.content == {"membership": "knock", "displayname": "Bob", "reason": "let me in"}
    # Knocking again while knocking is allowed by the auth rules; but not while invited.
    await hs.ok("POST", f"/rooms/{room_id}/invite", alice, {"user_id": bob.user_id})
    await hs.error("POST", f"/knock/{room_id}", bob, {}, "M_FORBIDDEN", 403)
    await hs.ok("POST", f"/rooms/{room_id}/join", bob, {})
    await hs.error("POST", f"/knock/{room_id}", bob, {}, "M_FORBIDDEN", 403)
    # carol knocks, is denied with a kick, knocks again and retracts it.
    await hs.ok("POST", f"/knock/{room_id}", carol, {})
    await hs.ok("POST", f"/rooms/{room_id}/kick", alice, {"user_id": carol.user_id})
    assert await hs.membership(room_id, carol) == "leave"
    await hs.ok("POST", f"/knock/{room_id}", carol, {})
    await hs.ok("POST", f"/rooms/{room_id}/leave", carol, {})
    assert await hs.membership(room_id, carol) == "leave"


async def test_knock_forbidden_cases(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    # Room version 6 has no knocking at all.
    v6 = await hs.create_room(alice, room_version="6", initial_state=[
        {"type": "m.room.join_rules", "content": {"join_rule": "knock"}}])
    await hs.error("POST", f"/knock/{v6}", bob, {}, "M_FORBIDDEN", 403)
    # An invite-only room does not take knocks.
    invite_only = await hs.create_room(alice)
    await hs.error("POST", f"/knock/{invite_only}", bob, {}, "M_FORBIDDEN", 403)
    await hs.error("POST", "/knock/%23nowhere:hearth.test", bob, {}, "M_NOT_FOUND", 404)
    # Banned users cannot knock.
    knock_room = await hs.create_room(alice, initial_state=[
        {"type": "m.room.join_rules", "content": {"join_rule": "knock"}}])
    await hs.ok("POST", f"/rooms/{knock_room}/ban", alice, {"user_id": bob.user_id})
    await hs.error("POST", f"/knock/{knock_room}", bob, {}, "M_FORBIDDEN", 403)


async def test_forget_only_after_leaving(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room_id = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    body = await hs.error("POST", f"/rooms/{room_id}/forget", bob, None, "M_UNKNOWN", 400)
    assert bob.user_id in body["error"]
    await hs.ok("POST", f"/rooms/{room_id}/leave", bob, {})
    await hs.ok("POST", f"/rooms/{room_id}/forget", bob)
    forgotten = await hs.hearth.core.db.fetchval(
        "SELECT forgotten FROM room_memberships WHERE user_id = ? AND room_id = ?", (bob.user_id, room_id))
    assert forgotten == 1
    # Joining again un-forgets.
    await hs.ok("POST", f"/join/{room_id}", bob, {})
    forgotten = await hs.hearth.core.db.fetchval(
        "SELECT forgotten FROM room_memberships WHERE user_id = ? AND room_id = ?", (bob.user_id, room_id))
    assert forgotten == 0
    await hs.error("POST", "/rooms/!nope:hearth.test/forget", bob, None, "M_NOT_FOUND", 404)


async def test_restricted_join(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    carol = await hs.user("carol")
    space = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{space}", bob, {})
    room_id = await hs.create_room(alice, room_version="10", initial_state=[{
        "type": "m.room.join_rules",
        "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space}]}}])
    await hs.ok("POST", f"/rooms/{room_id}/join", bob, {})
    join = await hs.state(room_id, "m.room.member", bob.user_id)
    assert join.content["join_authorised_via_users_server"] == alice.user_id
    await hs.error("POST", f"/rooms/{room_id}/join", carol, {}, "M_FORBIDDEN", 403)


async def test_guest_join_needs_guest_access(hs):
    alice = await hs.user("alice")
    guest = await hs.user("guest1", is_guest=True)
    public = await hs.create_room(alice, preset="public_chat")  # guest_access forbidden
    await hs.error("POST", f"/join/{public}", guest, {}, "M_GUEST_ACCESS_FORBIDDEN", 403)
    open_room = await hs.create_room(alice, preset="public_chat", initial_state=[
        {"type": "m.room.guest_access", "content": {"guest_access": "can_join"}}])
    await hs.ok("POST", f"/join/{open_room}", guest, {})
    await hs.error("POST", "/createRoom", guest, {}, "M_GUEST_ACCESS_FORBIDDEN", 403)


async def test_membership_keeps_profile(hs):
    alice = await hs.user("alice", displayname="Alice", avatar_url="mxc://hearth.test/a")
    room_id = await hs.create_room(alice, room_version="1")
    member = await hs.state(room_id, "m.room.member", alice.user_id)
    assert member.content == {"membership": "join", "displayname": "Alice", "avatar_url": "mxc://hearth.test/a"}


async def test_join_by_id_endpoint_needs_a_room_id(hs):
    alice = await hs.user("alice")
    await hs.create_room(alice, preset="public_chat", room_alias_name="pub")
    await hs.error("POST", "/rooms/%23pub:hearth.test/join", alice, {}, "M_INVALID_PARAM", 400)


async def test_join_and_invite_keep_a_clients_extra_keys(hs):
    alice = await hs.user("alice", displayname="Alice")
    bob = await hs.user("bob", displayname="Bob")
    carol = await hs.user("carol")
    room_id = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room_id}", bob, {"foo": "bar", "reason": "hi", "membership": "leave",
                                                  "join_authorised_via_users_server": alice.user_id})
    content = (await hs.state(room_id, "m.room.member", bob.user_id)).content
    # The client's own key stays; the server's keys are the server's.
    assert content == {"membership": "join", "displayname": "Bob", "reason": "hi", "foo": "bar"}
    await hs.ok("POST", f"/rooms/{room_id}/invite", alice, {"user_id": carol.user_id, "org.example.note": [1]})
    assert (await hs.state(room_id, "m.room.member", carol.user_id)).content == {
        "membership": "invite", "org.example.note": [1]}
    await hs.ok("POST", f"/rooms/{room_id}/join", carol, {"org.example.note": {"x": 2}})
    assert (await hs.state(room_id, "m.room.member", carol.user_id)).content == {
        "membership": "join", "org.example.note": {"x": 2}}
