"""MSC4186's pure parts: required_state ($LAZY, $ME, wildcards, union, covers), list filters,
and a list's sorted window kept up to date room by room."""
from __future__ import annotations

from appliance.core.protocol.sliding_sync import ListFilters, ListView, RequiredState, RoomEntry

ME = "@me:h"
STATE = {
    ("m.room.create", ""): "$create", ("m.room.name", ""): "$name", ("m.room.topic", ""): "$topic",
    ("m.room.member", ME): "$me", ("m.room.member", "@a:h"): "$a", ("m.room.member", "@b:h"): "$b",
    ("m.space.child", "!c:h"): "$child", ("org.custom", ME): "$custom",
}


def sel(entries, lazy=()) -> set[str]:
    return set(RequiredState.parse(entries, ME).select(STATE, lazy).values())


def test_pairs_wildcards_me_and_lazy():
    assert sel([("m.room.name", ""), ("m.room.nope", "")]) == {"$name"}
    assert sel([("*", "*")]) == set(STATE.values())
    assert sel([("m.room.member", "*")]) == {"$me", "$a", "$b"}
    assert sel([("*", "")]) == {"$create", "$name", "$topic"}
    assert sel([("*", "$ME")]) == {"$me", "$custom"}
    assert sel([("m.room.member", "$ME")]) == {"$me"}
    assert sel([("m.room.member", "$LAZY")], lazy=["@b:h", "@nobody:h"]) == {"$b"}
    assert sel([("m.room.member", "$LAZY")]) == set()
    assert sel([]) == set()


def test_union_and_covers():
    small = RequiredState.parse([("m.room.name", "")], ME)
    lazy = RequiredState.parse([("m.room.member", "$LAZY")], ME)
    both = small.union(lazy)
    assert both.covers(small) and both.covers(lazy) and not small.covers(both)
    everything = RequiredState.parse([("*", "*")], ME)
    assert everything.covers(both) and not both.covers(everything)
    assert RequiredState.parse([("m.room.member", "*")], ME).covers(lazy)  # all members include the lazy ones
    assert RequiredState.parse([("*", "")], ME).covers(small)
    assert RequiredState().is_empty and not small.is_empty


def entry(room_id: str, bump: int, membership: str = "join", **kw) -> RoomEntry:
    return RoomEntry(room_id, membership, 1, "$m", bump, kw.get("room_type"), kw.get("encrypted", False),
                     kw.get("is_dm", False))


def test_filters():
    dm = entry("!dm", 1, is_dm=True)
    space = entry("!space", 2, room_type="m.space")
    invite = entry("!inv", 3, membership="invite", encrypted=True)
    assert ListFilters(is_dm=True).allows(dm) and not ListFilters(is_dm=True).allows(space)
    assert ListFilters(is_invite=True).allows(invite) and not ListFilters(is_invite=False).allows(invite)
    assert ListFilters(is_encrypted=True).allows(invite) and not ListFilters(is_encrypted=True).allows(dm)
    assert ListFilters(room_types=("m.space",)).allows(space) and not ListFilters(room_types=("m.space",)).allows(dm)
    assert ListFilters(room_types=(None,)).allows(dm) and not ListFilters(room_types=(None,)).allows(space)
    assert not ListFilters(not_room_types=("m.space",)).allows(space)
    assert ListFilters(spaces=("!s",)).allows(dm, frozenset({"!dm"}))
    assert not ListFilters(spaces=("!s",)).allows(space, frozenset({"!dm"}))
    assert ListFilters(tags=("m.favourite",)).allows(dm, None, frozenset({"m.favourite"}))
    assert not ListFilters(not_tags=("m.lowpriority",)).allows(dm, None, frozenset({"m.lowpriority"}))


def test_view_sorted_by_bump_and_updated_room_by_room():
    rooms = {f"!r{i}": entry(f"!r{i}", i) for i in range(10)}
    view = ListView(ListFilters())
    view.rebuild(rooms.values(), None, {})
    assert len(view) == 10
    assert view.window([(0, 2)]) == ["!r9", "!r8", "!r7"]
    assert view.window([(0, 0), (9, 20)]) == ["!r9", "!r0"]
    assert view.window([(10, 12)]) == []
    rooms["!r0"].bump_stamp = 100
    view.update("!r0", rooms["!r0"], None, frozenset())
    assert view.window([(0, 1)]) == ["!r0", "!r9"] and len(view) == 10
    view.update("!r9", None, None, frozenset())  # gone
    assert view.window([(0, 1)]) == ["!r0", "!r8"] and len(view) == 9
    dms = ListView(ListFilters(is_dm=True))
    dms.rebuild(rooms.values(), None, {})
    assert len(dms) == 0
    rooms["!r3"].is_dm = True
    dms.update("!r3", rooms["!r3"], None, frozenset())
    assert dms.window([(0, 5)]) == ["!r3"]
