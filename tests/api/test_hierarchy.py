"""GET /_matrix/client/v1/rooms/{roomId}/hierarchy, and m.space.child / m.space.parent state."""
from __future__ import annotations

V1 = "/_matrix/client/v1"


async def hierarchy(hs, user, room_id: str, expect: int = 200, **params) -> dict:
    q = "&".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in params.items())
    r = await hs.client.get(f"{V1}/rooms/{room_id}/hierarchy" + (f"?{q}" if q else ""), headers=user.headers)
    body = await r.get_json()
    assert r.status_code == expect, (r.status_code, body)
    return body


async def space(hs, user, name: str, **body) -> str:
    return await hs.create_room(user, name=name, creation_content={"type": "m.space"}, **body)


async def add_child(hs, user, parent: str, child: str, **content) -> None:
    content.setdefault("via", [hs.hearth.server_name])
    await hs.ok("PUT", f"/rooms/{parent}/state/m.space.child/{child}", user, content)


def ids(body: dict) -> list[str]:
    return [r["room_id"] for r in body["rooms"]]


async def test_space_with_two_children(hs):
    alice = await hs.user("alice")
    home = await space(hs, alice, "Home", topic="Our house")
    kitchen = await hs.create_room(alice, name="Kitchen")
    garden = await hs.create_room(alice, name="Garden")
    await add_child(hs, alice, home, kitchen)
    await add_child(hs, alice, home, garden, suggested=True)
    body = await hierarchy(hs, alice, home)
    assert ids(body) == [home, kitchen, garden]
    root = body["rooms"][0]
    assert root["room_type"] == "m.space"
    assert root["name"] == "Home" and root["topic"] == "Our house"
    assert root["num_joined_members"] == 1
    assert root["room_version"]
    assert {c["state_key"] for c in root["children_state"]} == {kitchen, garden}
    for c in root["children_state"]:
        assert c["type"] == "m.space.child" and c["sender"] == alice.user_id
        assert isinstance(c["origin_server_ts"], int) and c["content"]["via"]
    assert body["rooms"][1]["name"] == "Kitchen" and body["rooms"][1]["children_state"] == []
    assert "room_type" not in body["rooms"][1]
    assert "next_batch" not in body
    assert ids(await hierarchy(hs, alice, home, suggested_only=True)) == [home, garden]


async def test_order_key_then_timestamp(hs):
    alice = await hs.user("alice")
    home = await space(hs, alice, "Home")
    a, b, c, d = [await hs.create_room(alice, name=n) for n in "abcd"]
    await add_child(hs, alice, home, a, order="zzz")
    await add_child(hs, alice, home, b)
    await add_child(hs, alice, home, c, order=" ")
    await add_child(hs, alice, home, d, order="\u00e9")  # not a valid order: treated as none
    assert ids(await hierarchy(hs, alice, home)) == [home, c, a, b, d]


async def test_children_without_via_and_removed_children_are_ignored(hs):
    alice = await hs.user("alice")
    home = await space(hs, alice, "Home")
    kept = await hs.create_room(alice)
    gone = await hs.create_room(alice)
    await add_child(hs, alice, home, kept)
    await add_child(hs, alice, home, gone)
    await hs.ok("PUT", f"/rooms/{home}/state/m.space.child/{gone}", alice, {})
    await add_child(hs, alice, home, "!unknown:elsewhere.example")  # not known here: left out
    body = await hierarchy(hs, alice, home)
    assert ids(body) == [home, kept]
    assert {c["state_key"] for c in body["rooms"][0]["children_state"]} == {kept, "!unknown:elsewhere.example"}


async def test_nested_depth_first_max_depth_and_loops(hs):
    alice = await hs.user("alice")
    top = await space(hs, alice, "Top")
    sub = await space(hs, alice, "Sub")
    leaf = await hs.create_room(alice, name="Leaf")
    after = await hs.create_room(alice, name="After")
    await add_child(hs, alice, top, sub, order="a")
    await add_child(hs, alice, top, after, order="b")
    await add_child(hs, alice, sub, leaf)
    await add_child(hs, alice, sub, top)  # a loop
    assert ids(await hierarchy(hs, alice, top)) == [top, sub, leaf, after]
    assert ids(await hierarchy(hs, alice, top, max_depth=1)) == [top, sub, after]
    assert ids(await hierarchy(hs, alice, top, max_depth=0)) == [top]


async def test_pagination(hs):
    alice = await hs.user("alice")
    home = await space(hs, alice, "Home")
    children = [await hs.create_room(alice, name=f"r{i}") for i in range(5)]
    for i, c in enumerate(children):
        await add_child(hs, alice, home, c, order=f"{i}")
    first = await hierarchy(hs, alice, home, limit=2)
    assert ids(first) == [home, children[0]]
    second = await hierarchy(hs, alice, home, limit=2, **{"from": first["next_batch"]})
    assert ids(second) == children[1:3]
    third = await hierarchy(hs, alice, home, limit=2, **{"from": second["next_batch"]})
    assert ids(third) == children[3:5]
    assert "next_batch" not in third
    body = await hierarchy(hs, alice, home, 400, limit=2, suggested_only=True, **{"from": first["next_batch"]})
    assert body["errcode"] == "M_INVALID_PARAM"
    body = await hierarchy(hs, alice, home, 400, max_depth=3, **{"from": first["next_batch"]})
    assert body["errcode"] == "M_INVALID_PARAM"
    assert (await hierarchy(hs, alice, home, 400, **{"from": "nonsense"}))["errcode"] == "M_INVALID_PARAM"
    assert (await hierarchy(hs, alice, home, 400, limit=0))["errcode"] == "M_INVALID_PARAM"
    assert (await hierarchy(hs, alice, home, 400, max_depth=-1))["errcode"] == "M_INVALID_PARAM"
    assert (await hierarchy(hs, alice, home, 400, limit="x"))["errcode"] == "M_INVALID_PARAM"


async def test_what_another_user_may_see(hs):
    alice = await hs.user("alice")
    bob = await hs.user("bob")
    home = await space(hs, alice, "Home", preset="public_chat")
    public = await hs.create_room(alice, preset="public_chat", name="Public")
    private = await hs.create_room(alice, name="Private")
    invited = await hs.create_room(alice, name="Invited", invite=[bob.user_id])
    readable = await hs.create_room(alice, name="Readable", initial_state=[
        {"type": "m.room.history_visibility", "content": {"history_visibility": "world_readable"}}])
    restricted = await hs.create_room(alice, name="Restricted", initial_state=[
        {"type": "m.room.join_rules", "content": {"join_rule": "restricted", "allow": [
            {"type": "m.room_membership", "room_id": home}]}}])
    for c in (public, private, invited, readable, restricted):
        await add_child(hs, alice, home, c)
    # Bob is not in the space yet; it is public, so he may peek at it.
    body = await hierarchy(hs, bob, home)
    assert set(ids(body)) == {home, public, invited, readable}
    await hs.ok("POST", f"/join/{home}", bob)
    body = await hierarchy(hs, bob, home)
    assert set(ids(body)) == {home, public, invited, readable, restricted}
    entry = next(r for r in body["rooms"] if r["room_id"] == restricted)
    assert entry["join_rule"] == "restricted" and entry["allowed_room_ids"] == [home]
    # A private room he cannot see at all.
    assert (await hierarchy(hs, bob, private, 403))["errcode"] == "M_FORBIDDEN"
    assert (await hierarchy(hs, bob, "!nope:hearth.test", 403))["errcode"] == "M_FORBIDDEN"


async def test_space_state_is_stored_as_sent(hs):
    """m.space.child / m.space.parent need nothing special: they are state like any other."""
    alice = await hs.user("alice")
    home = await space(hs, alice, "Home")
    room = await hs.create_room(alice, initial_state=[
        {"type": "m.space.parent", "state_key": home, "content": {"via": ["hearth.test"], "canonical": True}}])
    await add_child(hs, alice, home, room, order="1")
    create = await hs.ok("GET", f"/rooms/{home}/state/m.room.create", alice)
    assert create["type"] == "m.space"
    parent = await hs.ok("GET", f"/rooms/{room}/state/m.space.parent/{home}", alice)
    assert parent == {"via": ["hearth.test"], "canonical": True}
    child = await hs.ok("GET", f"/rooms/{home}/state/m.space.child/{room}", alice)
    assert child == {"via": [hs.hearth.server_name], "order": "1"}


async def test_suggested_only_considers_only_suggested_rooms_at_every_level(hs):
    """suggested_only: the tree holds only rooms reached by suggested m.space.child links, and
    each space's children_state only those links (as Synapse answers it)."""
    alice = await hs.user("alice")
    home = await space(hs, alice, "Home")
    wing = await space(hs, alice, "Wing")
    hall = await hs.create_room(alice, name="Hall")
    attic = await hs.create_room(alice, name="Attic")
    cellar = await hs.create_room(alice, name="Cellar")
    await add_child(hs, alice, home, wing, suggested=True)
    await add_child(hs, alice, home, hall)
    await add_child(hs, alice, home, cellar, suggested="yes")  # not a boolean: not suggested
    await add_child(hs, alice, wing, attic, suggested=True)
    await add_child(hs, alice, wing, hall, suggested=False)
    body = await hierarchy(hs, alice, home, suggested_only=True)
    assert ids(body) == [home, wing, attic]
    children = {r["room_id"]: sorted(c["state_key"] for c in r["children_state"]) for r in body["rooms"]}
    assert children == {home: [wing], wing: [attic], attic: []}
    everything = await hierarchy(hs, alice, home)
    assert set(ids(everything)) == {home, wing, hall, attic, cellar}
    assert len(everything["rooms"][0]["children_state"]) == 3
