"""POST /search: FTS5 over message bodies, room names and topics; rank and recent order,
next_batch, event context with profiles, groupings, filters, and only what the user may see."""
from __future__ import annotations


def search_body(term: str, **criteria) -> dict:
    return {"search_categories": {"room_events": {"search_term": term, **criteria}}}


async def search(hs, user, term: str, next_batch: str | None = None, **criteria) -> dict:
    path = "/search" + (f"?next_batch={next_batch}" if next_batch else "")
    return (await hs.ok("POST", path, user, search_body(term, **criteria)))["search_categories"]["room_events"]


def bodies(res: dict) -> list[str]:
    return [r["result"]["content"].get("body") for r in res["results"]]


async def test_finds_a_message(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    eid = await hs.send(alice, room, {"msgtype": "m.text", "body": "The martians have landed"})
    await hs.send(alice, room, {"msgtype": "m.text", "body": "nothing to see"})
    res = await search(hs, alice, "martians")
    assert res["count"] == 1
    assert [r["result"]["event_id"] for r in res["results"]] == [eid]
    assert res["results"][0]["result"]["room_id"] == room
    assert res["results"][0]["rank"] > 0
    assert "martians" in res["highlights"]
    assert "next_batch" not in res


async def test_words_are_all_required_and_prefixes_match(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    await hs.send(alice, room, {"msgtype": "m.text", "body": "martians and men"})
    await hs.send(alice, room, {"msgtype": "m.text", "body": "only martians"})
    assert bodies(await search(hs, alice, "martians men")) == ["martians and men"]
    assert sorted(bodies(await search(hs, alice, "mart"))) == ["martians and men", "only martians"]
    assert bodies(await search(hs, alice, "Märtians")) != []  # diacritics and case folded
    assert (await search(hs, alice, '"*()^:'))["results"] == []  # no words: no results, no error


async def test_names_and_topics(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice, name="Garden planning", topic="Tomatoes and beans")
    res = await search(hs, alice, "garden")
    assert [r["result"]["type"] for r in res["results"]] == ["m.room.name"]
    res = await search(hs, alice, "tomatoes", keys=["content.topic"])
    assert [r["result"]["type"] for r in res["results"]] == ["m.room.topic"]
    assert (await search(hs, alice, "tomatoes", keys=["content.body"]))["results"] == []
    await hs.error("POST", "/search", alice, search_body("x", keys=["content.nope"]), "M_BAD_JSON", 400)
    assert room


async def test_order_by_recent_and_rank(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    await hs.send(alice, room, {"msgtype": "m.text", "body": "apple pie recipe with lots of other words around it"})
    await hs.send(alice, room, {"msgtype": "m.text", "body": "apple apple apple"})
    await hs.send(alice, room, {"msgtype": "m.text", "body": "banana apple"})
    recent = await search(hs, alice, "apple", order_by="recent")
    assert bodies(recent) == ["banana apple", "apple apple apple",
                              "apple pie recipe with lots of other words around it"]
    ranked = await search(hs, alice, "apple", order_by="rank")
    assert bodies(ranked)[0] == "apple apple apple"
    ranks = [r["rank"] for r in ranked["results"]]
    assert ranks == sorted(ranks, reverse=True)


async def test_pagination_with_next_batch(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    for i in range(7):
        await hs.send(alice, room, {"msgtype": "m.text", "body": f"note number {i}"})
    for order in ("recent", "rank"):
        seen: list[str] = []
        token = None
        pages = 0
        while True:
            res = await search(hs, alice, "note", next_batch=token, order_by=order, filter={"limit": 3})
            assert len(res["results"]) <= 3
            assert res["count"] == 7
            seen += bodies(res)
            pages += 1
            token = res.get("next_batch")
            if token is None:
                break
        assert pages == 3
        assert sorted(seen) == sorted(f"note number {i}" for i in range(7))
    first = await search(hs, alice, "note", order_by="recent", filter={"limit": 3})
    await hs.error("POST", f"/search?next_batch={first['next_batch']}", alice,
                   search_body("note", order_by="rank"), "M_INVALID_PARAM", 400)
    await hs.error("POST", "/search?next_batch=garbage", alice, search_body("note"), "M_INVALID_PARAM", 400)


async def test_only_rooms_the_user_may_see(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    private = await hs.create_room(alice)
    await hs.send(alice, private, {"msgtype": "m.text", "body": "secret pineapple"})
    shared = await hs.create_room(alice, invite=[bob.user_id])
    # history_visibility shared (default): bob sees it once joined.
    await hs.send(alice, shared, {"msgtype": "m.text", "body": "early pineapple"})
    assert (await search(hs, bob, "pineapple"))["results"] == []
    await hs.ok("POST", f"/join/{shared}", bob)
    await hs.send(alice, shared, {"msgtype": "m.text", "body": "joined pineapple"})
    assert sorted(bodies(await search(hs, bob, "pineapple"))) == ["early pineapple", "joined pineapple"]
    # After leaving, nothing sent later shows; what came before his join stays shared with him
    # (history visibility rule 3: he joined after it was sent).
    await hs.ok("POST", f"/rooms/{shared}/leave", bob)
    await hs.send(alice, shared, {"msgtype": "m.text", "body": "later pineapple"})
    assert sorted(bodies(await search(hs, bob, "pineapple"))) == ["early pineapple", "joined pineapple"]
    # A joined-only room: bob does not see what was said before he joined.
    hidden = await hs.create_room(alice, invite=[bob.user_id],
                                  initial_state=[{"type": "m.room.history_visibility",
                                                  "content": {"history_visibility": "joined"}}])
    await hs.send(alice, hidden, {"msgtype": "m.text", "body": "before kiwi"})
    await hs.ok("POST", f"/join/{hidden}", bob)
    await hs.send(alice, hidden, {"msgtype": "m.text", "body": "after kiwi"})
    assert bodies(await search(hs, bob, "kiwi")) == ["after kiwi"]


async def test_redacted_messages_are_not_found(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    eid = await hs.send(alice, room, {"msgtype": "m.text", "body": "delete this walrus"})
    assert bodies(await search(hs, alice, "walrus")) == ["delete this walrus"]
    await hs.ok("PUT", f"/rooms/{room}/redact/{eid}/r1", alice, {})
    assert (await search(hs, alice, "walrus"))["results"] == []


async def test_filter_rooms_and_senders(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    one = await hs.create_room(alice, invite=[bob.user_id])
    await hs.ok("POST", f"/join/{one}", bob)
    two = await hs.create_room(alice)
    await hs.send(alice, one, {"msgtype": "m.text", "body": "cheese one alice"})
    await hs.send(bob, one, {"msgtype": "m.text", "body": "cheese one bob"})
    await hs.send(alice, two, {"msgtype": "m.text", "body": "cheese two"})
    assert sorted(bodies(await search(hs, alice, "cheese", filter={"rooms": [two]}))) == ["cheese two"]
    assert sorted(bodies(await search(hs, alice, "cheese", filter={"not_rooms": [two]}))) == [
        "cheese one alice", "cheese one bob"]
    assert bodies(await search(hs, alice, "cheese", filter={"senders": [bob.user_id]})) == ["cheese one bob"]
    await hs.error("POST", "/search", alice, search_body("cheese", filter={"limit": "x"}), "M_BAD_JSON", 400)


async def test_context_profiles_groups_and_state(hs):
    alice = await hs.user("alice", displayname="Alice")
    bob = await hs.user("bob", displayname="Bob")
    room = await hs.create_room(alice, name="Pantry", invite=[bob.user_id])
    await hs.ok("POST", f"/join/{room}", bob)
    for i in range(3):
        await hs.send(alice, room, {"msgtype": "m.text", "body": f"before {i}"})
    target = await hs.send(bob, room, {"msgtype": "m.text", "body": "the lentils are here"})
    for i in range(3):
        await hs.send(alice, room, {"msgtype": "m.text", "body": f"after {i}"})
    res = await search(hs, alice, "lentils",
                       event_context={"before_limit": 2, "after_limit": 1, "include_profile": True},
                       groupings={"group_by": [{"key": "room_id"}, {"key": "sender"}]}, include_state=True)
    [hit] = res["results"]
    assert hit["result"]["event_id"] == target
    ctx = hit["context"]
    assert [e["content"]["body"] for e in ctx["events_before"]] == ["before 2", "before 1"]
    assert [e["content"]["body"] for e in ctx["events_after"]] == ["after 0"]
    assert ctx["start"].startswith("s") and ctx["end"].startswith("s")
    assert ctx["profile_info"][bob.user_id]["displayname"] == "Bob"
    assert ctx["profile_info"][alice.user_id]["displayname"] == "Alice"
    assert res["groups"]["room_id"][room]["results"] == [target]
    assert res["groups"]["sender"][bob.user_id]["results"] == [target]
    assert any(e["type"] == "m.room.name" for e in res["state"][room])
    # Without event_context, no context.
    assert "context" not in (await search(hs, alice, "lentils"))["results"][0]


async def test_bad_requests(hs):
    alice = await hs.user("alice")
    await hs.error("POST", "/search", alice, {}, "M_BAD_JSON", 400)
    await hs.error("POST", "/search", alice, {"search_categories": {"room_events": {}}}, "M_BAD_JSON", 400)
    await hs.error("POST", "/search", alice, search_body("x", order_by="best"), "M_BAD_JSON", 400)
    await hs.error("POST", "/search", alice, search_body("x", event_context={"before_limit": -1}),
                   "M_BAD_JSON", 400)
    assert await hs.ok("POST", "/search", alice, {"search_categories": {}}) == {"search_categories": {}}
    await hs.error("POST", "/search", None, search_body("x"), "M_MISSING_TOKEN", 401)
