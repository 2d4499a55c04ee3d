"""No admin API input ever produces a 500: every /_synapse/admin route, hit by an admin with junk,
answers an error with an errcode (or succeeds)."""
from __future__ import annotations

import asyncio

import pytest

from tests.api.junk import hit_every_route

JUNK_BODIES = [
    None,
    b"this is not json",
    b"[1, 2, 3]",
    b"{}",
    b'{"admin": "x", "block": 5, "purge": "no", "new_password": [], "user_id": 3, "content": "x", "token": {},'
    b' "uses_allowed": "x", "expiry_time": 1.5, "devices": "x", "length": -1, "erase": "x", "password": 7,'
    b' "displayname": 5, "avatar_url": [], "deactivated": "x", "threepids": "x", "new_room_user_id": 5}',
    b'{"user_id": "@ghost:hearth.test", "content": {"body": 5}, "new_room_user_id": "@x:elsewhere",'
    b' "uses_allowed": -3, "expiry_time": -1, "devices": [1, 2], "token": "bad token", "length": 1000}',
]
PATH_VALUES = ["x", "%00", "!nope:hearth.test", "@ghost:hearth.test", "@x:elsewhere.org", "-1",
               "99999999999999999999999", "\u202e", "a" * 300]
QUERY = {"limit": "-5", "from": "garbage", "dir": "sideways", "order_by": "x", "guests": "maybe",
         "deactivated": "2", "valid": "perhaps", "admins": "", "public_rooms": "x", "type": ""}


@pytest.mark.timeout(300)
async def test_every_admin_route_survives_junk(hs, boss):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, name="junk target")
    run = await hit_every_route(hs, "/_synapse/admin", boss, room_id, bodies=JUNK_BODIES,
                                path_values=PATH_VALUES, queries=[{}, QUERY],
                                body_methods=("POST", "PUT", "DELETE"), user_id=alice.user_id)
    await asyncio.sleep(0.2)  # let background room deletions started above finish
    assert run.rules > 25
    assert not run.failures, run.failures[:20]
    assert run.statuses.get(400, 0) > 100 and run.statuses.get(200, 0) > 10, run.statuses
