"""No admin API input ever produces a 500: every /_synapse/admin route, hit by an admin with junk,
answers an error with an errcode (or succeeds)."""
from __future__ import annotations

import asyncio
import re

import pytest

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


def _fill(rule: str, value: str, room_id: str, user_id: str) -> str:
    def repl(m: re.Match) -> str:
        name = m.group(1).split(":")[-1]
        if value == "real":
            return room_id if "room" in name else user_id if "user" in name else "x"
        return value
    return re.sub(r"<([^>]+)>", repl, rule)


@pytest.mark.timeout(300)
async def test_every_admin_route_survives_junk(hs):
    app = hs.client.app
    boss = await hs.user("boss", admin=True)
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, name="junk target")
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/_synapse/admin")]
    assert len(rules) > 25
    failures = []
    statuses: dict[int, int] = {}
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for value in ["real", *PATH_VALUES]:
                path = _fill(rule.rule, value, room_id, alice.user_id)
                bodies = JUNK_BODIES if method in ("POST", "PUT", "DELETE") else [None]
                for body in bodies:
                    for query in ({}, QUERY):
                        r = await hs.client.open(path, method=method, headers=boss.headers, data=body,
                                                 query_string=query)
                        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                        if r.status_code >= 500:
                            failures.append((method, path[:80], body[:40] if body else None, r.status_code))
                        elif r.status_code >= 400:
                            data = await r.get_json(force=True, silent=True)
                            if not (isinstance(data, dict) and "errcode" in data):
                                failures.append((method, path[:80], "no errcode", r.status_code))
    await asyncio.sleep(0.2)  # let background room deletions started above finish
    assert not failures, failures[:20]
    assert statuses.get(400, 0) > 100 and statuses.get(200, 0) > 10, statuses
