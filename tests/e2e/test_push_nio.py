"""Push notifications through a real Hearth process, with matrix-nio as the client and a small
local push gateway recording what it receives.

Bob sets a pusher; Alice mentions him: his /sync shows highlight_count 1 and the gateway gets
one notification with the event, room and counts. After a server restart nothing is pushed
twice, and new messages are still pushed.
"""
from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from nio import AsyncClient, JoinResponse, RoomCreateResponse, SyncResponse
from nio.api import RoomPreset

from tests.conftest import start_server
from tests.e2e.nio_support import new_user as _new_user
from tests.e2e.nio_support import send_text
from tests.push_gateway import PushGateway

pytestmark = pytest.mark.timeout(120)


async def new_user(base_url: str, name: str) -> AsyncClient:
    return await _new_user(base_url, name, device_name=f"{name}'s phone")


async def counts_after(client: AsyncClient, room_id: str, since: str | None, want: int, timeout: float = 15.0):
    """Sync until the room's highlight count is `want`; returns (unread counts, next_batch)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = await client.sync(timeout=1000, since=since)
        assert isinstance(resp, SyncResponse), resp
        since = resp.next_batch
        room = resp.rooms.join.get(room_id)
        if room is not None and room.unread_notifications.highlight_count == want:
            return room.unread_notifications, since
    raise AssertionError(f"highlight_count never became {want}")


async def test_mention_is_highlighted_and_pushed_once_across_a_restart(tmp_path):
    gateway = await PushGateway().start()
    server = await asyncio.to_thread(start_server, tmp_path / "data")
    alice = bob = None
    try:
        alice = await new_user(server.base_url, "alice")
        bob = await new_user(server.base_url, "bob")
        created = await alice.room_create(preset=RoomPreset.private_chat, invite=[bob.user_id], name="Kitchen")
        assert isinstance(created, RoomCreateResponse), created
        room = created.room_id
        assert isinstance(await bob.join(room), JoinResponse)

        async with httpx.AsyncClient() as http:
            r = await http.post(f"{server.base_url}/_matrix/client/v3/pushers/set",
                                headers={"Authorization": f"Bearer {bob.access_token}"},
                                json={"kind": "http", "app_id": "org.hearth.test", "pushkey": "bobs-phone",
                                      "app_display_name": "Hearth test", "device_display_name": "Bob's phone",
                                      "lang": "en", "data": {"url": gateway.url}})
            assert r.status_code == 200, r.text
        first = await bob.sync(timeout=0)
        assert isinstance(first, SyncResponse)
        assert first.rooms.join[room].unread_notifications.highlight_count == 0

        mention_id = await send_text(alice, room, "Dinner is ready, Bob!", mention=bob.user_id)
        unread, since = await counts_after(bob, room, first.next_batch, want=1)
        assert unread.notification_count == 1
        [got] = await gateway.wait_for(1)
        note = got["notification"]
        assert note["event_id"] == mention_id and note["room_id"] == room
        assert note["counts"] == {"unread": 1} and note["room_name"] == "Kitchen"
        assert note["sender"] == alice.user_id and note["content"]["body"] == "Dinner is ready, Bob!"
        assert note["devices"][0]["pushkey"] == "bobs-phone"
        assert note["devices"][0]["tweaks"] == {"sound": "default", "highlight": True}

        plain_id = await send_text(alice, room, "It's getting cold")  # a one-to-one room: notifies
        await gateway.wait_for(2)

        # Restart: nothing delivered before is delivered again; new events still are.
        await asyncio.to_thread(server.stop)
        server = await asyncio.to_thread(start_server, tmp_path / "data")
        for c in (alice, bob):
            c.homeserver = server.base_url
        await asyncio.sleep(1.5)
        assert [g["notification"]["event_id"] for g in gateway.received] == [mention_id, plain_id]
        later_id = await send_text(alice, room, "Last call")
        await gateway.wait_for(3)
        await asyncio.sleep(0.5)
        assert [g["notification"]["event_id"] for g in gateway.received] == [mention_id, plain_id, later_id]
        assert gateway.received[2]["notification"]["counts"] == {"unread": 3}
        unread, _ = await counts_after(bob, room, since, want=1)
        assert unread.notification_count == 3
    finally:
        for c in (alice, bob):
            if c is not None:
                await c.close()
        await asyncio.to_thread(server.stop)
        await gateway.stop()
