"""Server notices: a message from the system account in the user's own tagged, invited room."""
from __future__ import annotations

import pytest

from appliance.core.protocol.errors import InvalidParam, NotFound


async def sync(hs, user, **params) -> dict:
    q = "&".join(f"{k}={v}" for k, v in params.items())
    return await hs.ok("GET", "/sync" + (f"?{q}" if q else ""), user)


async def test_first_notice_creates_an_invited_tagged_room(hs):
    alice = await hs.user("alice")
    notices = hs.hearth.accounts.server_notices
    event_id = await notices.send_notice(alice.user_id, "The server restarts tonight at 2am")
    system = notices.system_user_id
    assert system == f"@hearth-notices:{hs.hearth.server_name}"
    body = await sync(hs, alice)
    [(room_id, invite)] = body["rooms"]["invite"].items()
    senders = {e["sender"] for e in invite["invite_state"]["events"]}
    assert system in senders
    # Joining shows the message, the tag and who sent it.
    await hs.ok("POST", f"/join/{room_id}", alice)
    ev = await hs.ok("GET", f"/rooms/{room_id}/event/{event_id}", alice)
    assert ev["sender"] == system
    assert ev["content"] == {"msgtype": "m.text", "body": "The server restarts tonight at 2am"}
    tags = await hs.ok("GET", f"/user/{alice.user_id}/rooms/{room_id}/tags", alice)
    assert "m.server_notice" in tags["tags"]
    # The user may read but not post there.
    await hs.error("PUT", f"/rooms/{room_id}/send/m.room.message/t1", alice,
                   {"msgtype": "m.text", "body": "hi"}, "M_FORBIDDEN", 403)


async def test_one_room_per_user_reused(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    notices = hs.hearth.accounts.server_notices
    await notices.send_notice(alice.user_id, "one")
    room = await notices.notice_room(alice.user_id)
    await notices.send_notice(alice.user_id, "two")  # still only invited: same room
    assert await notices.notice_room(alice.user_id) == room
    await hs.ok("POST", f"/join/{room}", alice)
    await notices.send_notice(alice.user_id, "three", server_notice_type="m.server_notice.usage_limit_reached",
                              extra={"limit_type": "monthly_active_user"})
    assert await notices.notice_room(alice.user_id) == room
    msgs = await hs.ok("GET", f"/rooms/{room}/messages?dir=b&limit=10", alice)
    bodies = [e["content"]["body"] for e in msgs["chunk"] if e["type"] == "m.room.message"]
    assert bodies == ["three", "two", "one"]
    last = next(e for e in msgs["chunk"] if e["type"] == "m.room.message")
    assert last["content"]["msgtype"] == "m.server_notice"
    assert last["content"]["server_notice_type"] == "m.server_notice.usage_limit_reached"
    assert last["content"]["limit_type"] == "monthly_active_user"
    # Bob gets his own room.
    await notices.send_notice(bob.user_id, "hello bob")
    assert await notices.notice_room(bob.user_id) not in (None, room)
    # Alice's room does not have bob in it.
    assert await hs.hearth.core.event_store.membership(room, bob.user_id) is None


async def test_leaving_means_a_new_room_next_time(hs):
    alice = await hs.user("alice")
    notices = hs.hearth.accounts.server_notices
    await notices.send_notice(alice.user_id, "one")
    room = await notices.notice_room(alice.user_id)
    await hs.ok("POST", f"/join/{room}", alice)
    await hs.ok("POST", f"/rooms/{room}/leave", alice)
    assert await notices.notice_room(alice.user_id) is None
    await notices.send_notice(alice.user_id, "two")
    new_room = await notices.notice_room(alice.user_id)
    assert new_room not in (None, room)
    assert await notices.is_notice_room(new_room, alice.user_id)


async def test_system_account_cannot_log_in(hs):
    alice = await hs.user("alice")
    notices = hs.hearth.accounts.server_notices
    await notices.send_notice(alice.user_id, "hi")
    status, body = await hs.call("POST", "/login", None, {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "hearth-notices"},
        "password": ""})
    assert status == 403 and body["errcode"] == "M_FORBIDDEN"
    user = await hs.hearth.core.account_store.get_user(notices.system_user_id)
    assert user is not None and user.password_hash is None


async def test_bad_targets(hs):
    notices = hs.hearth.accounts.server_notices
    with pytest.raises(NotFound):
        await notices.send_notice(f"@ghost:{hs.hearth.server_name}", "x")
    with pytest.raises(InvalidParam):
        await notices.send_notice("@someone:elsewhere.example", "x")
    with pytest.raises(InvalidParam):
        await notices.send_notice("not a user", "x")
    alice = await hs.user("alice")
    with pytest.raises(InvalidParam):
        await notices.send_notice(alice.user_id, "   ")
    with pytest.raises(InvalidParam):
        await notices.send_notice(notices.system_user_id, "x")


async def test_invite_cannot_be_rejected_but_room_can_be_left(hs):
    alice = await hs.user("alice")
    notices = hs.hearth.accounts.server_notices
    await notices.send_notice(alice.user_id, "hi")
    room = await notices.notice_room(alice.user_id)
    await hs.error("POST", f"/rooms/{room}/leave", alice, {}, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM", 403)
    assert await hs.membership(room, alice) == "invite"
    await hs.ok("POST", f"/join/{room}", alice)
    await hs.ok("POST", f"/rooms/{room}/leave", alice)
    assert await hs.membership(room, alice) == "leave"
