"""No client input ever produces a 500: every route, hit with junk, answers a spec-shaped error."""
from __future__ import annotations

import re

import pytest

JUNK_BODIES = [
    None,
    b"this is not json",
    b"[1, 2, 3]",
    b'"a string"',
    b"{}",
    b'{"membership": 5, "content": [], "auth": "x", "room_version": {}, "limit": "ten", "body": null}',
    b'{"visibility": "bogus", "preset": 7, "invite": "not-a-list", "initial_state": [{"type": 1}]}',
    b'{"' + b"k" * 100 + b'": ' + b"[" * 50 + b"]" * 50 + b"}",
]
PATH_VALUES = ["", "x", "%00", "!nope:hearth.test", "@ghost:hearth.test", "#none:hearth.test", "$nope",
               "\u202e\u0000", "a" * 300]


def _fill(rule: str, value: str, room_id: str, user_id: str) -> str:
    def repl(m: re.Match) -> str:
        name = m.group(1).split(":")[-1]
        if value == "real" and "room" in name:
            return room_id
        if value == "real" and "user" in name:
            return user_id
        return value if value != "real" else "x"
    return re.sub(r"<([^>]+)>", repl, rule)


@pytest.mark.timeout(300)
async def test_every_route_survives_junk(hs):
    app = hs.client.app
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, name="junk target")
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/_matrix/client/v3")]
    assert len(rules) > 60
    failures = []
    statuses: dict[int, int] = {}
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for value in ["real", *PATH_VALUES]:
                path = _fill(rule.rule, value, room_id, alice.user_id)
                bodies = JUNK_BODIES if method in ("POST", "PUT") else [None]
                for body in bodies:
                    r = await hs.client.open(path, method=method, headers=alice.headers, data=body,
                                             query_string={"limit": "-5", "from": "garbage", "filter": "{bad",
                                                           "dir": "sideways", "timeout": "nan"})
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                    if r.status_code >= 500:
                        failures.append((method, path[:80], body[:40] if body else None, r.status_code))
                    elif r.status_code >= 400:
                        data = await r.get_json(force=True, silent=True)
                        if not (isinstance(data, dict) and "errcode" in data) and r.status_code != 401:
                            failures.append((method, path[:80], "no errcode", r.status_code))
    assert not failures, failures[:20]
    # The junk really reached the handlers: most of it is refused, some of it even works.
    assert sum(statuses.values()) > 2000
    assert statuses.get(400, 0) > 100 and statuses.get(200, 0) > 10, statuses
