"""A family chats through a real Hearth process, using matrix-nio as their client.

This is the "done when" story of the homeserver core: register, create rooms, invite, join,
chat, edit, react, redact, paginate, typing and receipts, leave, kick and ban, with a
long-polling /sync woken by the other user's message.
"""
from __future__ import annotations

import asyncio
import time

import pytest
from nio import (
    AsyncClient,
    JoinError,
    JoinResponse,
    ReceiptEvent,
    RoomCreateResponse,
    RoomMessagesResponse,
    RoomSendResponse,
    SyncResponse,
    TypingNoticeEvent,
)
from nio.api import RoomPreset, RoomVisibility

from tests.e2e.nio_support import new_user as _new_user
from tests.e2e.nio_support import send_text, sync_until

pytestmark = pytest.mark.timeout(120)


async def new_user(base_url: str, name: str) -> AsyncClient:
    return await _new_user(base_url, name, device_name=f"{name}'s phone", first_sync=True)


def timeline_bodies(resp: SyncResponse, room_id: str) -> list[str]:
    room = resp.rooms.join.get(room_id)
    if room is None:
        return []
    return [getattr(e, "body", None) for e in room.timeline.events if getattr(e, "body", None) is not None]


async def test_family_chats_end_to_end(server):
    anna = await new_user(server.base_url, "anna")
    ben = await new_user(server.base_url, "ben")
    try:
        # Anna makes a private room and invites Ben; Ben sees the invite and joins.
        created = await anna.room_create(name="Family", topic="Dinner plans", invite=[ben.user_id],
                                         preset=RoomPreset.private_chat)
        assert isinstance(created, RoomCreateResponse), created
        room_id = created.room_id
        await sync_until(ben, lambda r: room_id in r.rooms.invite)
        joined = await ben.join(room_id)
        assert isinstance(joined, JoinResponse), joined
        await sync_until(anna, lambda r: room_id in r.rooms.join and any(
            getattr(e, "membership", None) == "join" and e.state_key == ben.user_id
            for e in r.rooms.join[room_id].timeline.events))
        await sync_until(ben, lambda r: room_id in r.rooms.join)

        # A long-polling /sync of Ben's is woken by Anna's message well before its timeout.
        started = time.monotonic()
        poll = asyncio.create_task(ben.sync(timeout=20000))
        await asyncio.sleep(0.5)
        hello_id = await send_text(anna, room_id, "Hello Ben!")
        woken = await asyncio.wait_for(poll, 15)
        assert isinstance(woken, SyncResponse), woken
        assert time.monotonic() - started < 10
        assert "Hello Ben!" in timeline_bodies(woken, room_id)

        # Ben replies, edits his reply and reacts to Anna's message.
        reply_id = await send_text(ben, room_id, "Hi Anna, what's for dinner?")
        edit = await ben.room_send(room_id, "m.room.message", {
            "msgtype": "m.text", "body": "* Hi Anna, what's for dinner tonight?",
            "m.new_content": {"msgtype": "m.text", "body": "Hi Anna, what's for dinner tonight?"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": reply_id},
        })
        assert isinstance(edit, RoomSendResponse), edit
        reaction = await ben.room_send(room_id, "m.reaction", {
            "m.relates_to": {"rel_type": "m.annotation", "event_id": hello_id, "key": "👍"}})
        assert isinstance(reaction, RoomSendResponse), reaction

        def saw_edit_and_reaction(r: SyncResponse) -> bool:
            room = r.rooms.join.get(room_id)
            if room is None:
                return False
            sources = [e.source for e in room.timeline.events]
            return any(s.get("event_id") == edit.event_id for s in sources) or any(
                s.get("type") == "m.reaction" for s in sources)

        await sync_until(anna, saw_edit_and_reaction)

        # Typing and read receipts reach the other side through the ephemeral section.
        await ben.room_typing(room_id, True, timeout=10000)
        await sync_until(anna, lambda r: room_id in r.rooms.join and any(
            isinstance(e, TypingNoticeEvent) and ben.user_id in e.users
            for e in r.rooms.join[room_id].ephemeral))
        await ben.update_receipt_marker(room_id, hello_id)
        await sync_until(anna, lambda r: room_id in r.rooms.join and any(
            isinstance(e, ReceiptEvent) and any(rc.event_id == hello_id and rc.user_id == ben.user_id
                                                for rc in e.receipts)
            for e in r.rooms.join[room_id].ephemeral))

        # Anna redacts her greeting: Ben gets it served redacted.
        redaction = await anna.room_redact(room_id, hello_id, reason="typo")
        assert redaction.__class__.__name__ == "RoomRedactResponse", redaction
        await sync_until(ben, lambda r: room_id in r.rooms.join and any(
            e.source.get("type") == "m.room.redaction" for e in r.rooms.join[room_id].timeline.events))

        # History: 30 more messages, then Ben pages back through all of them, 7 at a time.
        for i in range(30):
            await send_text(anna, room_id, f"message {i}")
        latest = await sync_until(ben, lambda r: "message 29" in timeline_bodies(r, room_id))
        seen = timeline_bodies(latest, room_id)
        token = latest.rooms.join[room_id].timeline.prev_batch
        for _ in range(20):
            page = await ben.room_messages(room_id, start=token, limit=7)
            assert isinstance(page, RoomMessagesResponse), page
            seen += [getattr(e, "body", None) for e in page.chunk if getattr(e, "body", None)]
            if not page.chunk or page.end is None:
                break
            token = page.end
        for i in range(30):
            assert f"message {i}" in seen
        # The redacted greeting is never served with its body again.
        assert "Hello Ben!" not in seen

        # Ben leaves.
        left = await ben.room_leave(room_id)
        assert left.__class__.__name__ == "RoomLeaveResponse", left
        await sync_until(ben, lambda r: room_id in r.rooms.leave)
    finally:
        await anna.close()
        await ben.close()


async def test_kick_rejoin_and_ban(server):
    anna = await new_user(server.base_url, "anna")
    carl = await new_user(server.base_url, "carl")
    try:
        created = await anna.room_create(visibility=RoomVisibility.public, name="Neighbours",
                                         preset=RoomPreset.public_chat)
        assert isinstance(created, RoomCreateResponse), created
        room_id = created.room_id
        assert isinstance(await carl.join(room_id), JoinResponse)
        kicked = await anna.room_kick(room_id, carl.user_id, reason="too loud")
        assert kicked.__class__.__name__ == "RoomKickResponse", kicked
        await sync_until(carl, lambda r: room_id in r.rooms.leave)
        # A kicked user may come back to a public room...
        assert isinstance(await carl.join(room_id), JoinResponse)
        # ...a banned one may not.
        banned = await anna.room_ban(room_id, carl.user_id, reason="spam")
        assert banned.__class__.__name__ == "RoomBanResponse", banned
        again = await carl.join(room_id)
        assert isinstance(again, JoinError)
        assert again.status_code == "M_FORBIDDEN"
        # And Carl can no longer send into it.
        refused = await carl.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "let me in"})
        assert refused.__class__.__name__ == "RoomSendError"
    finally:
        await anna.close()
        await carl.close()
