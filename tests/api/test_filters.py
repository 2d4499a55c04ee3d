"""Filters (filter.yaml, definitions/event_filter.yaml): invalid ones are refused (M_BAD_JSON when
uploaded, M_INVALID_PARAM inline in /sync or /messages), valid ones are stored and read back."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest

INVALID = [
    {"presence": "not_an_object"},
    {"room": {"timeline": "not_an_object"}},
    {"room": {"state": {"senders": "not_a_list"}}},
    {"room": {"timeline": {"senders": ["not_a_user_id"]}}},
    {"room": {"ephemeral": {"not_senders": ["@"]}}},
    {"room": {"rooms": ["#alias:hearth.test"]}},
    {"room": {"not_rooms": ["not_a_room"]}},
    {"room": {"timeline": {"rooms": [5]}}},
    {"account_data": {"types": [1]}},
    {"room": {"timeline": {"limit": "ten"}}},
    {"room": {"timeline": {"limit": -1}}},
    {"room": {"include_leave": "yes"}},
    {"room": {"timeline": {"lazy_load_members": 1}}},
    {"event_format": "xml"},
    {"event_fields": "content.body"},
]

VALID = [
    {},
    {"room": {"timeline": {"limit": 1, "senders": ["@alice:hearth.test"], "not_types": ["m.room.*"]}}},
    {"room": {"rooms": ["!abc:hearth.test"], "not_rooms": [], "include_leave": True,
              "state": {"lazy_load_members": True, "include_redundant_members": False}}},
    {"presence": {"not_senders": ["@bob:hearth.test"]}, "account_data": {"types": ["m.*"]},
     "event_fields": ["type", "content.body"], "event_format": "client"},
    {"room": {"timeline": {"unread_thread_notifications": True, "contains_url": False}}},
    # event_filter.yaml says "greater than 0"; 0 is taken as Synapse takes it (issue 13)
    {"room": {"timeline": {"limit": 0}}},
]


@pytest.mark.parametrize("bad", INVALID, ids=[json.dumps(f) for f in INVALID])
async def test_invalid_filters_are_refused(hs, bad):
    alice = await hs.user("alice")
    await hs.error("POST", f"/user/{alice.user_id}/filter", alice, bad, "M_BAD_JSON", 400)
    await hs.error("GET", f"/sync?filter={quote(json.dumps(bad))}", alice, None, "M_INVALID_PARAM", 400)


@pytest.mark.parametrize("good", VALID, ids=[json.dumps(f) for f in VALID])
async def test_valid_filters_are_kept(hs, good):
    alice = await hs.user("alice")
    filter_id = (await hs.ok("POST", f"/user/{alice.user_id}/filter", alice, good))["filter_id"]
    assert await hs.ok("GET", f"/user/{alice.user_id}/filter/{filter_id}", alice) == good
    await hs.ok("GET", f"/sync?filter={filter_id}&timeout=0", alice)
    await hs.ok("GET", f"/sync?filter={quote(json.dumps(good))}&timeout=0", alice)


async def test_messages_filter_param(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    bad = quote(json.dumps({"senders": ["nobody"]}))
    await hs.error("GET", f"/rooms/{room}/messages?dir=b&filter={bad}", alice, None, "M_INVALID_PARAM", 400)
    good = quote(json.dumps({"senders": [alice.user_id], "limit": 5}))
    await hs.ok("GET", f"/rooms/{room}/messages?dir=b&filter={good}", alice)


async def test_timeline_limit_zero_syncs_rooms_without_their_events(hs):
    """limit 0: the room is there, its timeline empty and `limited` with a prev_batch to page back
    from; the next sync after a message says the same; one with nothing new has no room."""
    alice = await hs.user("alice")
    room = await hs.create_room(alice, name="quiet")
    zero = quote(json.dumps({"room": {"timeline": {"limit": 0}}}))
    first = await hs.ok("GET", f"/sync?filter={zero}&timeout=0", alice)
    joined = first["rooms"]["join"][room]
    assert joined["timeline"]["events"] == [] and joined["timeline"]["limited"] is True
    assert any(e["type"] == "m.room.name" for e in joined["state"]["events"])
    back = await hs.ok("GET", f"/rooms/{room}/messages?dir=b&limit=50&from={joined['timeline']['prev_batch']}", alice)
    assert any(e["type"] == "m.room.create" for e in back["chunk"])
    await hs.send(alice, room)
    second = await hs.ok("GET", f"/sync?filter={zero}&timeout=0&since={first['next_batch']}", alice)
    timeline = second["rooms"]["join"][room]["timeline"]
    assert timeline["events"] == [] and timeline["limited"] is True
    third = await hs.ok("GET", f"/sync?filter={zero}&timeout=0&since={second['next_batch']}", alice)
    assert room not in third.get("rooms", {}).get("join", {})
