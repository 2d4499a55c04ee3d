"""Reading rooms: state, members, events, context, relations, threads, timestamp lookup,
joined rooms and the user directory."""
from __future__ import annotations

import time


async def v1(hs, user, path: str, errcode: str | None = None) -> dict:
    """GET under /_matrix/client/v1 (relations, threads, timestamp_to_event live only there)."""
    r = await hs.client.get("/_matrix/client/v1" + path, headers=user.headers)
    body = await r.get_json()
    if errcode is None:
        assert r.status_code == 200, (r.status_code, body)
    else:
        assert body.get("errcode") == errcode, (r.status_code, body)
    return body


async def room_with_bob(hs):
    alice = await hs.user("alice", displayname="Alice A")
    bob = await hs.user("bob", displayname="Bobby")
    room = await hs.create_room(alice, preset="public_chat", name="Hall")
    await hs.ok("POST", f"/join/{room}", bob)
    return alice, bob, room


async def test_state_endpoints(hs):
    alice, bob, room = await room_with_bob(hs)
    state = await hs.ok("GET", f"/rooms/{room}/state", bob)
    assert {"m.room.create", "m.room.name", "m.room.member"} <= {e["type"] for e in state}
    assert all(e["room_id"] == room for e in state)
    assert await hs.ok("GET", f"/rooms/{room}/state/m.room.name", bob) == {"name": "Hall"}
    assert await hs.ok("GET", f"/rooms/{room}/state/m.room.name/", bob) == {"name": "Hall"}
    member = await hs.ok("GET", f"/rooms/{room}/state/m.room.member/{bob.user_id}", bob)
    assert member["membership"] == "join"
    full = await hs.ok("GET", f"/rooms/{room}/state/m.room.name/?format=event", bob)
    assert full["type"] == "m.room.name" and full["content"] == {"name": "Hall"}
    await hs.error("GET", f"/rooms/{room}/state/m.room.topic", bob, None, "M_NOT_FOUND", 404)
    eve = await hs.user("eve")
    await hs.error("GET", f"/rooms/{room}/state", eve, None, "M_FORBIDDEN", 403)
    await hs.error("GET", "/rooms/!nope:hearth.test/state", eve, None, "M_FORBIDDEN", 403)


async def test_left_user_sees_state_at_leave(hs):
    alice, bob, room = await room_with_bob(hs)
    await hs.ok("POST", f"/rooms/{room}/leave", bob, {})
    await hs.ok("PUT", f"/rooms/{room}/state/m.room.name", alice, {"name": "Renamed"})
    assert await hs.ok("GET", f"/rooms/{room}/state/m.room.name", bob) == {"name": "Hall"}


async def test_members_and_joined_members(hs):
    alice, bob, room = await room_with_bob(hs)
    carol = await hs.user("carol")
    await hs.ok("POST", f"/rooms/{room}/invite", alice, {"user_id": carol.user_id})
    chunk = (await hs.ok("GET", f"/rooms/{room}/members", bob))["chunk"]
    assert {e["state_key"]: e["content"]["membership"] for e in chunk} == {
        alice.user_id: "join", bob.user_id: "join", carol.user_id: "invite"}
    joined = (await hs.ok("GET", f"/rooms/{room}/members?membership=join", bob))["chunk"]
    assert {e["state_key"] for e in joined} == {alice.user_id, bob.user_id}
    not_joined = (await hs.ok("GET", f"/rooms/{room}/members?not_membership=join", bob))["chunk"]
    assert {e["state_key"] for e in not_joined} == {carol.user_id}
    jm = await hs.ok("GET", f"/rooms/{room}/joined_members", bob)
    assert set(jm["joined"]) == {alice.user_id, bob.user_id}
    assert jm["joined"][bob.user_id]["display_name"] == "Bobby"
    # `at` a sync token from before carol's invite.
    token = (await hs.ok("GET", "/sync", bob))["next_batch"]
    dave = await hs.user("dave")
    await hs.ok("POST", f"/rooms/{room}/invite", alice, {"user_id": dave.user_id})
    at = (await hs.ok("GET", f"/rooms/{room}/members?at={token}", bob))["chunk"]
    assert dave.user_id not in {e["state_key"] for e in at}
    await hs.error("GET", f"/rooms/{room}/members?membership=bogus", bob, None, "M_INVALID_PARAM", 400)


async def test_get_event_and_context(hs):
    alice, bob, room = await room_with_bob(hs)
    ids = [await hs.send(alice, room, {"msgtype": "m.text", "body": f"c{i}"}) for i in range(7)]
    ev = await hs.ok("GET", f"/rooms/{room}/event/{ids[3]}", bob)
    assert ev["content"]["body"] == "c3" and ev["room_id"] == room
    await hs.error("GET", f"/rooms/{room}/event/$missing", bob, None, "M_NOT_FOUND", 404)
    ctx = await hs.ok("GET", f"/rooms/{room}/context/{ids[3]}?limit=4", bob)
    assert ctx["event"]["event_id"] == ids[3]
    assert [e["content"]["body"] for e in ctx["events_before"]] == ["c2", "c1"]
    assert [e["content"]["body"] for e in ctx["events_after"]] == ["c4", "c5"]
    assert {e["type"] for e in ctx["state"]} >= {"m.room.create", "m.room.member"}
    # Tokens continue in both directions.
    back = await hs.ok("GET", f"/rooms/{room}/messages?dir=b&limit=1&from={ctx['start']}", bob)
    assert back["chunk"][0]["content"]["body"] == "c0"
    fwd = await hs.ok("GET", f"/rooms/{room}/messages?dir=f&limit=1&from={ctx['end']}", bob)
    assert fwd["chunk"][0]["content"]["body"] == "c6"
    await hs.error("GET", f"/rooms/{room}/context/$missing", bob, None, "M_NOT_FOUND", 404)


async def test_relations_and_bundled_aggregations(hs):
    alice, bob, room = await room_with_bob(hs)
    root = await hs.send(alice, room, {"msgtype": "m.text", "body": "root"})
    r1 = await hs.send(bob, room, {"msgtype": "m.text", "body": "t1",
                                   "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    r2 = await hs.send(alice, room, {"msgtype": "m.text", "body": "t2",
                                     "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    edit = await hs.send(alice, room, {"msgtype": "m.text", "body": "* root!", "m.new_content": {
        "msgtype": "m.text", "body": "root!"}, "m.relates_to": {"rel_type": "m.replace", "event_id": root}})
    react = await hs.send(bob, room, {"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "👍"}},
                          event_type="m.reaction")
    rel = await v1(hs, bob, f"/rooms/{room}/relations/{root}")
    assert [e["event_id"] for e in rel["chunk"]] == [react, edit, r2, r1]
    threads_only = await v1(hs, bob, f"/rooms/{room}/relations/{root}/m.thread?dir=f")
    assert [e["event_id"] for e in threads_only["chunk"]] == [r1, r2]
    typed = await v1(hs, bob, f"/rooms/{room}/relations/{root}/m.annotation/m.reaction")
    assert [e["event_id"] for e in typed["chunk"]] == [react]
    page = await v1(hs, bob, f"/rooms/{room}/relations/{root}?limit=2")
    assert len(page["chunk"]) == 2 and "next_batch" in page
    rest = await v1(hs, bob, f"/rooms/{room}/relations/{root}?limit=5&from={page['next_batch']}")
    assert [e["event_id"] for e in rest["chunk"]] == [r2, r1]
    ev = await hs.ok("GET", f"/rooms/{room}/event/{root}", bob)
    relations = ev["unsigned"]["m.relations"]
    assert relations["m.thread"]["count"] == 2
    assert relations["m.thread"]["latest_event"]["event_id"] == r2
    assert relations["m.thread"]["current_user_participated"] is True
    assert relations["m.replace"]["event_id"] == edit
    assert ev["content"]["body"] == "root"
    await v1(hs, bob, f"/rooms/{room}/relations/{root}?dir=x", "M_INVALID_PARAM")


async def test_threads_list(hs):
    alice, bob, room = await room_with_bob(hs)
    roots = []
    for i in range(3):
        r = await hs.send(alice, room, {"msgtype": "m.text", "body": f"root{i}"})
        roots.append(r)
    await hs.send(bob, room, {"msgtype": "m.text", "body": "re0",
                              "m.relates_to": {"rel_type": "m.thread", "event_id": roots[0]}})
    await hs.send(alice, room, {"msgtype": "m.text", "body": "re2",
                                "m.relates_to": {"rel_type": "m.thread", "event_id": roots[2]}})
    await hs.send(alice, room, {"msgtype": "m.text", "body": "re1",
                                "m.relates_to": {"rel_type": "m.thread", "event_id": roots[1]}})
    listed = await v1(hs, bob, f"/rooms/{room}/threads")
    assert [e["event_id"] for e in listed["chunk"]] == [roots[1], roots[2], roots[0]]
    mine = await v1(hs, bob, f"/rooms/{room}/threads?include=participated")
    assert [e["event_id"] for e in mine["chunk"]] == [roots[0]]
    first = await v1(hs, bob, f"/rooms/{room}/threads?limit=2")
    assert len(first["chunk"]) == 2
    second = await v1(hs, bob, f"/rooms/{room}/threads?limit=2&from={first['next_batch']}")
    assert [e["event_id"] for e in second["chunk"]] == [roots[0]]
    assert "next_batch" not in second
    await v1(hs, bob, f"/rooms/{room}/threads?include=bogus", "M_INVALID_PARAM")


async def test_timestamp_to_event(hs):
    alice, bob, room = await room_with_bob(hs)
    e1 = await hs.send(alice, room, {"msgtype": "m.text", "body": "one"})
    ev1 = await hs.ok("GET", f"/rooms/{room}/event/{e1}", bob)
    ts = ev1["origin_server_ts"]
    got = await v1(hs, bob, f"/rooms/{room}/timestamp_to_event?ts={ts}&dir=b")
    assert got["origin_server_ts"] <= ts
    after = await v1(hs, bob, f"/rooms/{room}/timestamp_to_event?ts={ts}&dir=f")
    assert after["origin_server_ts"] >= ts
    future = int(time.time() * 1000) + 3_600_000
    await v1(hs, bob, f"/rooms/{room}/timestamp_to_event?ts={future}&dir=f", "M_NOT_FOUND")
    first = await v1(hs, bob, f"/rooms/{room}/timestamp_to_event?ts=0&dir=f")
    create = await hs.ok("GET", f"/rooms/{room}/state/m.room.create/?format=event", bob)
    assert first["event_id"] == create["event_id"]
    await v1(hs, bob, f"/rooms/{room}/timestamp_to_event?ts=0", "M_INVALID_PARAM")


async def test_joined_rooms(hs):
    alice, bob, room = await room_with_bob(hs)
    other = await hs.create_room(bob)
    assert set((await hs.ok("GET", "/joined_rooms", bob))["joined_rooms"]) == {room, other}
    await hs.ok("POST", f"/rooms/{room}/leave", bob, {})
    assert (await hs.ok("GET", "/joined_rooms", bob))["joined_rooms"] == [other]


async def test_user_directory(hs):
    alice, bob, room = await room_with_bob(hs)
    hermit = await hs.user("hermit", displayname="Bob Hermit")
    await hs.create_room(hermit)  # a private room: hermit shares nothing with alice
    res = await hs.ok("POST", "/user_directory/search", alice, {"search_term": "bob"})
    assert [r["user_id"] for r in res["results"]] == [bob.user_id]
    assert res["results"][0]["display_name"] == "Bobby"
    assert res["limited"] is False
    limited = await hs.ok("POST", "/user_directory/search", alice, {"search_term": "", "limit": 1})
    assert len(limited["results"]) == 1 and limited["limited"] is True
    await hs.error("POST", "/user_directory/search", alice, {}, "M_BAD_JSON", 400)


async def test_messages_checks_access_before_parameters(hs):
    alice, bob, room = await room_with_bob(hs)
    carol = await hs.user("carol")
    for query in ("", "?dir=x", "?dir=b&limit=-1", "?dir=b&filter=nope"):
        await hs.error("GET", f"/rooms/{room}/messages{query}", carol, None, "M_FORBIDDEN", 403)
    await hs.error("GET", f"/rooms/!unknown:hearth.test/messages?dir=x", carol, None, "M_FORBIDDEN", 403)
    # Someone who left still reads up to their leave, and gets the parameter errors; after
    # forgetting the room, its history is closed to them.
    await hs.ok("POST", f"/rooms/{room}/leave", bob, {})
    await hs.error("GET", f"/rooms/{room}/messages?dir=x", bob, None, "M_INVALID_PARAM", 400)
    assert (await hs.ok("GET", f"/rooms/{room}/messages?dir=b", bob))["chunk"]
    await hs.ok("POST", f"/rooms/{room}/forget", bob, {})
    await hs.error("GET", f"/rooms/{room}/messages?dir=b", bob, None, "M_FORBIDDEN", 403)
    await hs.error("GET", f"/rooms/{room}/messages?dir=x", bob, None, "M_FORBIDDEN", 403)
    await hs.error("GET", f"/rooms/{room}/messages", alice, None, "M_INVALID_PARAM", 400)


async def test_an_event_the_user_may_not_see_is_not_found(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    carol = await hs.user("carol")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.ok("PUT", f"/rooms/{room}/state/m.room.history_visibility", alice, {"history_visibility": "joined"})
    before = await hs.send(alice, room)
    await hs.ok("POST", f"/join/{room}", bob, {})
    after = await hs.send(alice, room)
    assert (await hs.ok("GET", f"/rooms/{room}/event/{after}", bob))["event_id"] == after
    # Sent before bob joined a `joined` room; a room carol never joined; a room that does not exist.
    await hs.error("GET", f"/rooms/{room}/event/{before}", bob, None, "M_NOT_FOUND", 404)
    await hs.error("GET", f"/rooms/{room}/event/{after}", carol, None, "M_NOT_FOUND", 404)
    await hs.error("GET", f"/rooms/!nope:hearth.test/event/{after}", carol, None, "M_NOT_FOUND", 404)
    # After leaving, what came later is not theirs to see.
    await hs.ok("POST", f"/rooms/{room}/leave", bob, {})
    later = await hs.send(alice, room)
    await hs.error("GET", f"/rooms/{room}/event/{later}", bob, None, "M_NOT_FOUND", 404)
    assert (await hs.ok("GET", f"/rooms/{room}/event/{after}", bob))["event_id"] == after


async def test_members_at_a_point_in_the_timeline(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.ok("POST", f"/join/{room}", bob, {})
    joined_token = (await hs.ok("GET", "/sync", alice))["next_batch"]
    await hs.ok("POST", f"/rooms/{room}/leave", bob, {})
    for i in range(3):
        await hs.send(alice, room, {"msgtype": "m.text", "body": f"m{i}"})
    now = {e["state_key"]: e["content"]["membership"]
           for e in (await hs.ok("GET", f"/rooms/{room}/members", alice))["chunk"]}
    assert now == {alice.user_id: "join", bob.user_id: "leave"}
    then = {e["state_key"]: e["content"]["membership"]
            for e in (await hs.ok("GET", f"/rooms/{room}/members?at={joined_token}", alice))["chunk"]}
    assert then == {alice.user_id: "join", bob.user_id: "join"}
    # A /messages token works as well: the point before the three messages is after the leave.
    page = await hs.ok("GET", f"/rooms/{room}/messages?dir=b&limit=3", alice)
    at_end = {e["state_key"]: e["content"]["membership"]
              for e in (await hs.ok("GET", f"/rooms/{room}/members?at={page['end']}", alice))["chunk"]}
    assert at_end == {alice.user_id: "join", bob.user_id: "leave"}
    joined_only = (await hs.ok("GET", f"/rooms/{room}/members?at={joined_token}&membership=join", alice))["chunk"]
    assert {e["state_key"] for e in joined_only} == {alice.user_id, bob.user_id}


async def test_user_directory_follows_join_rule_changes(hs):
    alice = await hs.user("alice", displayname="Alice")
    bob = await hs.user("bob", displayname="Bobby")
    carol = await hs.user("carol")
    room = await hs.create_room(alice, preset="private_chat")
    await hs.ok("POST", f"/rooms/{room}/invite", alice, {"user_id": bob.user_id})
    await hs.ok("POST", f"/join/{room}", bob, {})

    async def found() -> list[str]:
        res = await hs.ok("POST", "/user_directory/search", carol, {"search_term": "bobby"})
        return [r["user_id"] for r in res["results"]]

    assert await found() == []  # a private room carol is not in
    await hs.ok("PUT", f"/rooms/{room}/state/m.room.join_rules", alice, {"join_rule": "public"})
    assert await found() == [bob.user_id]
    await hs.ok("PUT", f"/rooms/{room}/state/m.room.join_rules", alice, {"join_rule": "invite"})
    assert await found() == []


async def test_a_second_identical_reaction_is_refused(hs):
    """event_annotations.md: the same user, event, type and key twice is 400 M_DUPLICATE_ANNOTATION;
    a retried transaction still answers the first event; another key, another user, or the same
    one after the first was redacted is fine."""
    alice, bob, room = await room_with_bob(hs)
    target = await hs.send(alice, room, {"msgtype": "m.text", "body": "cake?"})
    thumbs = {"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": "👍"}}
    first = await hs.ok("PUT", f"/rooms/{room}/send/m.reaction/r1", bob, thumbs)
    assert (await hs.ok("PUT", f"/rooms/{room}/send/m.reaction/r1", bob, thumbs)) == first  # a retry
    await hs.error("PUT", f"/rooms/{room}/send/m.reaction/r2", bob, thumbs, "M_DUPLICATE_ANNOTATION", 400)
    heart = {"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": "❤️"}}
    await hs.ok("PUT", f"/rooms/{room}/send/m.reaction/r3", bob, heart)
    await hs.ok("PUT", f"/rooms/{room}/send/m.reaction/r4", alice, thumbs)
    await hs.ok("PUT", f"/rooms/{room}/redact/{first['event_id']}/x1", bob, {})
    await hs.ok("PUT", f"/rooms/{room}/send/m.reaction/r5", bob, thumbs)
