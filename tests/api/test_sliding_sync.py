"""Simplified sliding sync (MSC4186) over HTTP: lists, filters, required_state, subscriptions,
pos tokens and long-polls, counts, heroes, invites and every extension matrix-rust-sdk asks for."""
from __future__ import annotations

import asyncio
import time

SS = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"

DEFAULT_STATE = [["m.room.name", ""], ["m.room.encryption", ""], ["m.room.member", "$LAZY"],
                 ["m.room.member", "$ME"], ["m.room.create", ""], ["m.room.power_levels", ""]]


async def ss(hs, user, body: dict, pos: str | None = None, timeout: int | None = None,
             status: int = 200) -> dict:
    q = []
    if pos is not None:
        q.append(f"pos={pos}")
    if timeout is not None:
        q.append(f"timeout={timeout}")
    path = SS + ("?" + "&".join(q) if q else "")
    r = await hs.client.open(path, method="POST", headers=user.headers, json=body)
    got = await r.get_json()
    assert r.status_code == status, (r.status_code, got)
    return got


def all_rooms(limit: int = 1, end: int = 19, **filters) -> dict:
    lst: dict = {"ranges": [[0, end]], "timeline_limit": limit, "required_state": DEFAULT_STATE}
    if filters:
        lst["filters"] = filters
    return {"conn_id": "room-list", "lists": {"all": lst}}


def bodies(room: dict) -> list[str]:
    return [e["content"].get("body") for e in room.get("timeline", []) if e["type"] == "m.room.message"]


async def test_versions_announces_simplified_sliding_sync(hs):
    r = await hs.client.get("/_matrix/client/versions")
    assert (await r.get_json())["unstable_features"]["org.matrix.simplified_msc3575"] is True


async def test_first_request_lists_rooms_newest_first_with_timeline_and_state(hs):
    alice = await hs.user("alice", displayname="Alice")
    older = await hs.create_room(alice, name="Older")
    newer = await hs.create_room(alice, name="Newer")
    await hs.send(alice, older, {"msgtype": "m.text", "body": "old news"})
    await hs.send(alice, newer, {"msgtype": "m.text", "body": "fresh"})
    got = await ss(hs, alice, all_rooms(limit=1))
    assert got["pos"]
    assert got["lists"]["all"]["count"] == 2
    rooms = got["rooms"]
    assert set(rooms) == {older, newer}
    assert rooms[newer]["bump_stamp"] > rooms[older]["bump_stamp"]
    room = rooms[newer]
    assert room["initial"] is True
    assert room["name"] == "Newer"
    assert bodies(room) == ["fresh"]
    assert room["limited"] is True and room["prev_batch"]
    assert room["joined_count"] == 1 and room["invited_count"] == 0
    assert room["notification_count"] == 0 and room["highlight_count"] == 0
    types = {(e["type"], e["state_key"]) for e in room["required_state"]}
    assert ("m.room.name", "") in types and ("m.room.create", "") in types
    assert ("m.room.member", alice.user_id) in types  # $ME
    assert ("m.room.join_rules", "") not in types    # not asked for
    assert all("room_id" not in e for e in room["timeline"])
