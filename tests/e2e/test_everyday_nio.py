"""Everyday client modules through a real Hearth process with matrix-nio: presence of one user
seen by another, server-side search finding a message, a space with two children."""
from __future__ import annotations

import asyncio

import httpx
import pytest
from nio import (
    AsyncClient,
    JoinResponse,
    PresenceEvent,
    PresenceGetResponse,
    PresenceSetResponse,
    RoomCreateResponse,
    RoomPutStateResponse,
    RoomSendResponse,
    SpaceGetHierarchyResponse,
    SyncResponse,
)

from tests.e2e.nio_support import new_user as _new_user

pytestmark = pytest.mark.timeout(120)


async def new_user(base_url: str, name: str) -> AsyncClient:
    return await _new_user(base_url, name, device_name=f"{name}'s laptop", first_sync=True, set_presence="offline")


async def shared_room(owner: AsyncClient, guest: AsyncClient, **kwargs) -> str:
    created = await owner.room_create(invite=[guest.user_id], **kwargs)
    assert isinstance(created, RoomCreateResponse), created
    joined = await guest.join(created.room_id)
    assert isinstance(joined, JoinResponse), joined
    return created.room_id


async def test_presence_seen_by_a_room_mate(server):
    anna = await new_user(server.base_url, "anna")
    ben = await new_user(server.base_url, "ben")
    try:
        await shared_room(anna, ben)
        seen: list[PresenceEvent] = []
        ben.add_presence_callback(lambda ev: seen.append(ev), PresenceEvent)
        await ben.sync(timeout=0, set_presence="offline")
        # Ben long-polls; Anna says she is around with a status message.
        poll = asyncio.create_task(ben.sync(timeout=10_000, set_presence="offline"))
        await asyncio.sleep(0.3)
        resp = await anna.set_presence("online", "making tea")
        assert isinstance(resp, PresenceSetResponse), resp
        assert isinstance(await asyncio.wait_for(poll, 15), SyncResponse)
        for _ in range(20):
            if any(e.user_id == anna.user_id for e in seen):
                break
            await ben.sync(timeout=1000, set_presence="offline")
        mine = [e for e in seen if e.user_id == anna.user_id]
        assert mine, seen
        assert mine[-1].presence == "online"
        assert mine[-1].status_msg == "making tea"
        assert mine[-1].currently_active is True
        got = await ben.get_presence(anna.user_id)
        assert isinstance(got, PresenceGetResponse), got
        assert (got.presence, got.status_msg) == ("online", "making tea")
        # Anna steps away; Ben sees that too.
        await anna.set_presence("unavailable", "out for a walk")
        await ben.sync(timeout=5000, set_presence="offline")
        assert [e for e in seen if e.user_id == anna.user_id][-1].presence == "unavailable"
    finally:
        await anna.close()
        await ben.close()


async def test_search_finds_a_message(server):
    anna = await new_user(server.base_url, "anna")
    ben = await new_user(server.base_url, "ben")
    try:
        room = await shared_room(anna, ben, name="Kitchen")
        sent = await anna.room_send(room, "m.room.message", {"msgtype": "m.text", "body": "Dinner at seven tonight"})
        assert isinstance(sent, RoomSendResponse), sent
        await anna.room_send(room, "m.room.message", {"msgtype": "m.text", "body": "Bring bread"})
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            r = await http.post("/_matrix/client/v3/search", headers={"Authorization": f"Bearer {ben.access_token}"},
                                json={"search_categories": {"room_events": {
                                    "search_term": "dinner", "order_by": "recent",
                                    "event_context": {"before_limit": 1, "after_limit": 1,
                                                      "include_profile": True}}}})
        assert r.status_code == 200, r.text
        res = r.json()["search_categories"]["room_events"]
        assert res["count"] == 1
        [hit] = res["results"]
        assert hit["result"]["event_id"] == sent.event_id
        assert hit["result"]["content"]["body"] == "Dinner at seven tonight"
        assert [e["content"].get("body") for e in hit["context"]["events_after"]] == ["Bring bread"]
        assert anna.user_id in hit["context"]["profile_info"]
    finally:
        await anna.close()
        await ben.close()


async def test_space_hierarchy_with_two_children(server):
    anna = await new_user(server.base_url, "anna")
    ben = await new_user(server.base_url, "ben")
    try:
        space = await anna.room_create(name="Family", space=True, invite=[ben.user_id])
        assert isinstance(space, RoomCreateResponse), space
        children = []
        for name in ("Kitchen", "Holidays"):
            room = await anna.room_create(name=name, invite=[ben.user_id])
            assert isinstance(room, RoomCreateResponse), room
            children.append(room.room_id)
            put = await anna.room_put_state(space.room_id, "m.space.child", {"via": ["hearth.test"]},
                                            state_key=room.room_id)
            assert isinstance(put, RoomPutStateResponse), put
            put = await anna.room_put_state(room.room_id, "m.space.parent",
                                            {"via": ["hearth.test"], "canonical": True}, state_key=space.room_id)
            assert isinstance(put, RoomPutStateResponse), put
        assert isinstance(await ben.join(space.room_id), JoinResponse)
        resp = await ben.space_get_hierarchy(space.room_id)
        assert isinstance(resp, SpaceGetHierarchyResponse), resp
        rooms = {r["room_id"]: r for r in resp.rooms}
        assert list(rooms) == [space.room_id, *children]
        assert rooms[space.room_id]["room_type"] == "m.space"
        assert {c["state_key"] for c in rooms[space.room_id]["children_state"]} == set(children)
        assert [rooms[c]["name"] for c in children] == ["Kitchen", "Holidays"]
        page = await ben.space_get_hierarchy(space.room_id, limit=2)
        assert isinstance(page, SpaceGetHierarchyResponse), page
        assert [r["room_id"] for r in page.rooms] == [space.room_id, children[0]]
        rest = await ben.space_get_hierarchy(space.room_id, from_page=page.next_batch, limit=2)
        assert [r["room_id"] for r in rest.rooms] == [children[1]]
    finally:
        await anna.close()
        await ben.close()
