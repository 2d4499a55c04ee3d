"""No client input ever produces a 500: every route, hit with junk, answers a spec-shaped error."""
from __future__ import annotations

import pytest

from tests.api.junk import hit_every_route

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
QUERY = {"limit": "-5", "from": "garbage", "filter": "{bad", "dir": "sideways", "timeout": "nan"}


@pytest.mark.timeout(300)
async def test_every_route_survives_junk(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice, name="junk target")
    run = await hit_every_route(hs, "/_matrix/client/v3", alice, room_id, bodies=JUNK_BODIES,
                                path_values=PATH_VALUES, queries=[QUERY], bare_401_ok=True)
    assert run.rules > 60
    assert not run.failures, run.failures[:20]
    # The junk really reached the handlers: most of it is refused, some of it even works.
    assert sum(run.statuses.values()) > 2000
    assert run.statuses.get(400, 0) > 100 and run.statuses.get(200, 0) > 10, run.statuses
