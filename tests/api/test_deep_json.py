"""Deeply nested JSON is refused as M_NOT_JSON, never a 500 (issue 12 item 6).

Python's parser recurses once per level: ~1,000 levels raise RecursionError. Everything the server
does with a parsed body (pydantic, canonical JSON, storage) recurses too, so Hearth caps nesting
well below the interpreter's limit and refuses anything deeper the same way.
"""
from __future__ import annotations

import pytest

from appliance.core.protocol.json_text import MAX_JSON_DEPTH

DEEP = b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}"
JUST_TOO_DEEP = b'{"a": ' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}"
DEEPEST_ALLOWED = b'{"a": ' + b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1) + b"}"


async def _raw(hs, method: str, path: str, body: bytes, user=None):
    headers = {"Content-Type": "application/json"}
    if user is not None:
        headers.update(user.headers)
    r = await hs.client.open(hs.PREFIX + path, method=method, data=body, headers=headers)
    return r.status_code, await r.get_json()


@pytest.mark.parametrize("body", [DEEP, JUST_TOO_DEEP], ids=["1000-deep", "one-past-the-cap"])
async def test_deep_login_body_is_not_json(hs, body):
    status, answer = await _raw(hs, "POST", "/login", body)
    assert (status, answer["errcode"]) == (400, "M_NOT_JSON"), answer


async def test_deep_event_content_is_not_json(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice)
    status, answer = await _raw(hs, "PUT", f"/rooms/{room_id}/send/m.room.message/t1", DEEP, alice)
    assert (status, answer["errcode"]) == (400, "M_NOT_JSON"), answer


async def test_nesting_up_to_the_cap_is_stored_and_read_back(hs):
    alice = await hs.user("alice")
    room_id = await hs.create_room(alice)
    status, answer = await _raw(hs, "PUT", f"/rooms/{room_id}/send/org.example.deep/t2", DEEPEST_ALLOWED, alice)
    assert status == 200, answer
    event = await hs.ok("GET", f"/rooms/{room_id}/event/{answer['event_id']}", alice)
    depth, node = 0, event["content"]["a"]
    while node:
        depth, node = depth + 1, node[0]
    assert depth == MAX_JSON_DEPTH - 2  # the innermost list is empty


async def test_deep_filter_in_the_query_string_is_refused(hs):
    alice = await hs.user("alice")
    r = await hs.client.get(hs.PREFIX + "/sync", query_string={"filter": DEEP.decode()}, headers=alice.headers)
    assert r.status_code == 400
    assert (await r.get_json())["errcode"] in ("M_NOT_JSON", "M_INVALID_PARAM")


def test_depth_is_counted_without_recursion():
    from appliance.core.protocol.json_text import TooDeep, loads_bounded

    assert loads_bounded('{"a": [[{"b": 1}]]}') == {"a": [[{"b": 1}]]}
    assert loads_bounded(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None
    with pytest.raises(TooDeep):
        loads_bounded("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    # Many brackets side by side are not depth.
    assert len(loads_bounded("[" + ",".join(["[]"] * 500) + "]")) == 500
