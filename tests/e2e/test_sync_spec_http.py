"""/sync as the spec says (client-server-api "Syncing", sync.yaml, "Lazy-loading room members",
"Receiving notifications", threading), through a real Hearth process in raw HTTP: lazy-loaded
members in gapped incremental syncs, a joined user's own join under restricted history
visibility, `limited` for newly joined rooms, presence of people who start sharing a room,
left and forgotten rooms, `unsigned.membership` (MSC4115) and per-thread unread counts (MSC3771)."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import start_server
from tests.e2e.spec_http import User, register

pytestmark = pytest.mark.timeout(120)

LAZY = {"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 3}}}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("sync-spec") / "data", HEARTH_PRESENCE_ENABLED="true")
    yield srv.base_url
    srv.stop()


def room_of(resp: dict, room_id: str, section: str = "join") -> dict:
    return resp["rooms"][section][room_id]


def members(events: list[dict]) -> dict[str, str]:
    """state_key -> membership of the m.room.member events among `events`."""
    return {e["state_key"]: e["content"]["membership"] for e in events if e["type"] == "m.room.member"}


def public_room(owner: User, *others: User, **body) -> str:
    room = owner.create_room(preset="public_chat", **body)
    for u in others:
        u.join(room)
    return room


# -- lazy-loading members ----------------------------------------------------------------------


def test_lazy_gapped_sync_includes_memberships_from_the_gap(base_url):
    """sync.yaml: 'When a sync is limited, the server MUST return membership events for events in
    the gap ... regardless as to whether or not they are redundant.'"""
    alice, bob, carol, dave = (register(base_url, n) for n in ("alice", "bob", "carol", "dave"))
    room = public_room(alice, bob, dave)
    alice.sync(since=None, filter=LAZY)
    carol.join(room)  # in the gap, never speaks
    dave.leave(room)  # in the gap, never speaks
    for i in range(6):
        bob.send(room, f"m{i}")
    got = room_of(alice.sync(filter=LAZY), room)
    assert got["timeline"]["limited"] is True
    assert {e["sender"] for e in got["timeline"]["events"]} == {bob.user_id}
    state = members(got["state"]["events"])
    assert state.get(carol.user_id) == "join" and state.get(dave.user_id) == "leave"
    assert bob.user_id not in state  # the sender's unchanged membership was sent before: redundant


def test_lazy_sync_sends_a_senders_member_event_once(base_url):
    alice, bob, carol = (register(base_url, n) for n in ("alice", "bob", "carol"))
    room = public_room(alice, bob, carol)
    for i in range(4):
        alice.send(room, f"a{i}")
    first = room_of(alice.sync(since=None, filter=LAZY), room)
    assert carol.user_id not in members(first["state"]["events"] + first["timeline"]["events"])
    carol.send(room, "hi")  # an old member speaks in a non-gapped incremental sync
    got = room_of(alice.sync(filter=LAZY), room)
    assert got["timeline"]["limited"] is False
    assert members(got["state"]["events"]) == {carol.user_id: "join"}
    carol.send(room, "again")  # redundant now: not sent again
    got = room_of(alice.sync(filter=LAZY), room)
    assert members(got["state"]["events"]) == {}
    # An old member who speaks in a gapped sync: their member event too.
    for i in range(5):
        bob.send(room, f"b{i}")
    got = room_of(alice.sync(filter=LAZY), room)
    assert got["timeline"]["limited"] is True
    assert members(got["state"]["events"]).get(bob.user_id) == "join"


def test_join_and_leave_in_the_same_batch(base_url):
    """Someone who joins and leaves between two syncs: both events in the timeline, and in a
    gapped lazy-loaded sync their leave is in `state`. The syncing user's own join and leave
    between two syncs: the room is under rooms.leave, with both events, and not under join."""
    alice, bob, carol = (register(base_url, n) for n in ("alice", "bob", "carol"))
    room = public_room(alice)
    alice.sync(since=None, filter=LAZY)
    bob.sync(since=None)
    bob.join(room)
    bob.leave(room)
    got = room_of(alice.sync(filter=LAZY), room)
    tl = [(e["state_key"], e["content"]["membership"]) for e in got["timeline"]["events"]]
    assert tl == [(bob.user_id, "join"), (bob.user_id, "leave")]
    # Bob's own view: a left room with his join and leave.
    mine = bob.sync()
    assert room not in mine["rooms"]["join"]
    left = room_of(mine, room, "leave")
    assert [(e["state_key"], e["content"]["membership"]) for e in left["timeline"]["events"]
            if e["type"] == "m.room.member"] == [(bob.user_id, "join"), (bob.user_id, "leave")]
    # Gapped and lazy: carol joins and leaves, then alice talks past the limit.
    carol.join(room)
    carol.leave(room)
    for i in range(4):
        alice.send(room, f"a{i}")
    got = room_of(alice.sync(filter=LAZY), room)
    assert got["timeline"]["limited"] is True
    assert members(got["state"]["events"]).get(carol.user_id) == "leave"


def test_own_join_is_in_the_timeline_under_restricted_history_visibility(base_url):
    for visibility in ("joined", "invited"):
        alice, bob = register(base_url, "alice"), register(base_url, "bob")
        room = alice.create_room(preset="public_chat", initial_state=[
            {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": visibility}}])
        alice.send(room, "before bob")
        bob.sync(since=None)
        bob.join(room)
        got = room_of(bob.sync(), room)
        joins = [e for e in got["timeline"]["events"] if e["type"] == "m.room.member"
                 and e["state_key"] == bob.user_id]
        assert [e["content"]["membership"] for e in joins] == ["join"], visibility
        assert all(e["content"].get("body") != "before bob" for e in got["timeline"]["events"])
        # The same for an initial sync.
        got = room_of(bob.sync(since=None), room)
        assert bob.user_id in members(got["timeline"]["events"] + got["state"]["events"])


def test_own_leave_under_joined_history_visibility(base_url):
    """Complement's TestLeaveEventsInLeaveSection-like case: a user who leaves a `joined` room
    sees their leave in the timeline of rooms.leave (and nothing from after)."""
    alice, bob = register(base_url, "alice"), register(base_url, "bob")
    room = bob.create_room(preset="public_chat", initial_state=[
        {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "joined"}}])
    alice.join(room)
    alice.sync(since=None)
    alice.leave(room)
    bob.send(room, "after alice left")
    left = room_of(alice.sync(), room, "leave")
    assert [(e["type"], e["sender"], e["content"].get("membership")) for e in left["timeline"]["events"]] == [
        ("m.room.member", alice.user_id, "leave")]
    assert left["state"]["events"] == []


# -- newly joined rooms, presence, left rooms -------------------------------------------------------


def test_newly_joined_rooms_timeline_is_limited_when_it_misses_events(base_url):
    alice, bob = register(base_url, "alice"), register(base_url, "bob")
    room = public_room(alice)
    for i in range(6):
        alice.send(room, f"m{i}")
    bob.sync(since=None)
    bob.join(room)
    got = room_of(bob.sync(filter={"room": {"timeline": {"limit": 3}}}), room)
    assert got["timeline"]["limited"] is True
    assert got["timeline"]["prev_batch"]
    # Every message fits, but the filter's types leave out the room's first events: still
    # limited, since the timeline does not hold every event before the join (as Synapse and
    # Complement's "Newly joined room has correct timeline in incremental sync").
    busy = public_room(alice)
    for i in range(4):
        alice.send(busy, f"m{i}")
    bob.join(busy)
    got = room_of(bob.sync(filter={"room": {"timeline": {"limit": 10, "types": ["m.room.message"]},
                                            "state": {"types": []}}}), busy)
    assert [e["content"]["body"] for e in got["timeline"]["events"]] == [f"m{i}" for i in range(4)]
    assert got["timeline"]["limited"] is True
    # A room whose every event fits is not limited.
    small = public_room(alice)
    bob.join(small)
    got = room_of(bob.sync(filter={"room": {"timeline": {"limit": 50}}}), small)
    assert got["timeline"]["limited"] is False
    assert got["timeline"]["events"][0]["type"] == "m.room.create"


def test_presence_of_someone_who_just_started_sharing_a_room(base_url):
    alice, bob = register(base_url, "alice"), register(base_url, "bob")
    bob.call("PUT", f"/presence/{quote(bob.user_id)}/status", {"presence": "online", "status_msg": "here"})
    room = public_room(alice)
    alice.sync(since=None)
    bob.join(room)
    got = alice.sync()
    seen = {e["sender"]: e["content"] for e in got["presence"]["events"]}
    assert seen.get(bob.user_id, {}).get("status_msg") == "here"
    assert bob.user_id not in {e["sender"] for e in alice.sync()["presence"]["events"]}  # once
    # And bob learns of alice's.
    alice.call("PUT", f"/presence/{quote(alice.user_id)}/status", {"presence": "online"})
    carol = register(base_url, "carol")
    carol.call("PUT", f"/presence/{quote(carol.user_id)}/status", {"presence": "online", "status_msg": "hi"})
    carol.sync(since=None)
    carol.join(room)
    got = carol.sync()
    assert {alice.user_id, bob.user_id} <= {e["sender"] for e in got["presence"]["events"]}


def test_left_and_forgotten_rooms(base_url):
    alice, bob = register(base_url, "alice"), register(base_url, "bob")
    room = public_room(alice, bob)
    alice.send(room, "hello")
    bob.sync(since=None)
    bob.leave(room)
    left = room_of(bob.sync(), room, "leave")
    leave_events = [e for e in left["timeline"]["events"] if e["type"] == "m.room.member"]
    assert leave_events[-1]["state_key"] == bob.user_id and leave_events[-1]["content"]["membership"] == "leave"
    # Only what happened before the leave, state at the leave (filtered as asked).
    alice.send(room, "after")
    only = {"room": {"include_leave": True, "timeline": {"types": ["m.room.message"]},
                     "state": {"types": ["m.room.topic"]}}}
    left = room_of(bob.sync(since=None, filter=only), room, "leave")
    assert [e["content"]["body"] for e in left["timeline"]["events"]] == ["hello"]
    assert left["state"]["events"] == []
    # An initial sync with include_leave shows it; without, not.
    with_leave = {"room": {"include_leave": True}}
    assert room in bob.sync(since=None, filter=with_leave)["rooms"]["leave"]
    assert room not in bob.sync(since=None)["rooms"]["leave"]
    # Forgotten: gone from both.
    bob.call("POST", f"/rooms/{quote(room)}/forget", {})
    assert room not in bob.sync(since=None, filter=with_leave)["rooms"]["leave"]
    alice.send(room, "after")
    assert room not in bob.sync(filter=with_leave)["rooms"]["leave"]


# -- unsigned.membership (MSC4115, v1.11) ------------------------------------------------------------


def test_unsigned_membership_wherever_events_are_served(base_url):
    alice, bob = register(base_url, "alice"), register(base_url, "bob")
    room = alice.create_room(preset="public_chat", invite=[bob.user_id])
    before = alice.send(room, "before bob joined")
    bob.sync(since=None)
    bob.join(room)
    during = alice.send(room, "searchable while bob is here")
    got = room_of(bob.sync(), room)
    by_id = {e["event_id"]: e for e in got["timeline"]["events"]}
    assert by_id[during]["unsigned"]["membership"] == "join"
    own = {e["content"]["membership"]: e for e in got["timeline"]["events"]
           if e["type"] == "m.room.member" and e["state_key"] == bob.user_id}
    # Including the change the event makes.
    assert own["invite"]["unsigned"]["membership"] == "invite"
    assert own["join"]["unsigned"]["membership"] == "join"
    created = [e for e in got["timeline"]["events"] + got["state"]["events"] if e["type"] == "m.room.create"]
    assert all(e["unsigned"]["membership"] == "leave" for e in created)  # before bob was anything
    for e in got["state"]["events"]:
        assert "membership" in e["unsigned"], e

    msgs = bob.call("GET", f"/rooms/{quote(room)}/messages", params={"dir": "b", "limit": 50})
    ms = {e["event_id"]: e["unsigned"].get("membership") for e in msgs["chunk"]}
    assert ms[before] == "invite" and ms[during] == "join"  # shared history, sent while bob was invited

    bob.leave(room)
    got = room_of(bob.sync(), room, "leave")
    own_leave = [e for e in got["timeline"]["events"] if e["type"] == "m.room.member"][-1]
    assert own_leave["unsigned"]["membership"] == "leave"

    # /messages, /context, /event, /search.
    msgs = bob.call("GET", f"/rooms/{quote(room)}/messages", params={"dir": "b", "limit": 50})
    ms = {e["event_id"]: e["unsigned"].get("membership") for e in msgs["chunk"]}
    assert ms[during] == "join" and ms[own_leave["event_id"]] == "leave"
    ev = bob.call("GET", f"/rooms/{quote(room)}/event/{quote(during)}")
    assert ev["unsigned"]["membership"] == "join"
    ctx = bob.call("GET", f"/rooms/{quote(room)}/context/{quote(during)}", params={"limit": 4})
    assert ctx["event"]["unsigned"]["membership"] == "join"
    assert all("membership" in e["unsigned"] for e in ctx["events_before"] + ctx["events_after"] + ctx["state"])
    # alice, who never left: join throughout.
    ev = alice.call("GET", f"/rooms/{quote(room)}/event/{quote(before)}")
    assert ev["unsigned"]["membership"] == "join"
    found = alice.call("POST", "/search", {"search_categories": {"room_events": {
        "search_term": "searchable", "event_context": {"before_limit": 1, "after_limit": 1}}}})
    results = found["search_categories"]["room_events"]["results"]
    assert results and results[0]["result"]["unsigned"]["membership"] == "join"


# -- threaded read receipts (MSC3771) -------------------------------------------------------------------


def test_unread_counts_per_thread_and_threaded_receipts(base_url):
    """receipts.md "Threaded read receipts", sync.yaml `unread_thread_notifications`; the same
    steps as Complement's TestThreadedReceipts. A: root; B, C (mentions bob), E: in A's thread;
    D (mentions bob), F (a reference to A): main timeline; G: a reaction to F (not notifying)."""
    alice, bob = register(base_url, "alice"), register(base_url, "bob")
    room = public_room(alice, bob)
    bob.sync(since=None)
    a = alice.send(room, "Hello world!")
    in_a = {"m.relates_to": {"rel_type": "m.thread", "event_id": a}}
    b = alice.send(room, "Start thread!", **in_a)
    mention = {"m.mentions": {"user_ids": [bob.user_id]}}  # the spec's mentions (the body's are not)
    alice.send(room, f"Thread response {bob.user_id}!", **in_a, **mention)
    d = alice.send(room, f"Hello {bob.user_id}!", **mention)
    alice.send(room, "End thread", **in_a)
    f = alice.send(room, "Reference!", **{"m.relates_to": {"rel_type": "m.reference", "event_id": a}})
    alice.call("PUT", f"/rooms/{quote(room)}/send/m.room.reaction/g1", {
        "m.relates_to": {"rel_type": "m.annotation", "event_id": f, "key": "test"}})
    by_thread = {"room": {"timeline": {"unread_thread_notifications": True}}}

    def counts(threaded: bool) -> tuple[tuple[int, int], dict[str, tuple[int, int]] | None]:
        got = room_of(bob.sync(since=None, filter=by_thread if threaded else None), room)
        c = got["unread_notifications"]
        threads = got.get("unread_thread_notifications")
        return ((c["notification_count"], c["highlight_count"]),
                None if threads is None else {k: (v["notification_count"], v["highlight_count"])
                                              for k, v in threads.items()})

    assert counts(False) == ((6, 2), None)
    assert counts(True) == ((3, 1), {a: (3, 1)})
    # A threaded receipt in the main timeline at A.
    bob.call("POST", f"/rooms/{quote(room)}/receipt/m.read/{quote(a)}", {"thread_id": "main"})
    assert counts(False) == ((5, 2), None)
    assert counts(True) == ((2, 1), {a: (3, 1)})
    # A threaded receipt in A's thread at B.
    bob.call("POST", f"/rooms/{quote(room)}/receipt/m.read/{quote(b)}", {"thread_id": a})
    assert counts(False) == ((4, 2), None)
    assert counts(True) == ((2, 1), {a: (2, 1)})
    # An unthreaded receipt at D reads everything up to D, in every thread.
    bob.call("POST", f"/rooms/{quote(room)}/receipt/m.read/{quote(d)}", {})
    assert counts(False) == ((2, 0), None)
    assert counts(True) == ((1, 0), {a: (1, 0)})
    # Read the thread to its end, on a reaction to its last reply (in the thread by relation, two
    # hops): no thread has anything unread, so no per-thread counts.
    thread_events = alice.call("GET", f"/_matrix/client/v1/rooms/{quote(room)}/relations/{quote(a)}/m.thread")
    reaction = alice.call("PUT", f"/rooms/{quote(room)}/send/m.reaction/r1", {"m.relates_to": {
        "rel_type": "m.annotation", "event_id": thread_events["chunk"][0]["event_id"], "key": "+1"}})["event_id"]
    bob.call("POST", f"/rooms/{quote(room)}/receipt/m.read/{quote(reaction)}", {"thread_id": a})
    # An event of the main timeline is not in the thread (receipts.yaml: 400).
    bob.call("POST", f"/rooms/{quote(room)}/receipt/m.read/{quote(f)}", {"thread_id": a}, status=400)
    assert counts(False) == ((1, 0), None)
    assert counts(True) == ((1, 0), None)


def test_joined_and_left_in_one_batch_still_gets_the_rooms_state(base_url):
    """Sytest "When user joins and leaves a room in the same batch, the full state is still
    included in the next sync": the room is in rooms.leave with its state at the leave."""
    alice, bob = register(base_url, "alice"), register(base_url, "bob")
    room = alice.create_room()
    alice.state(room, "a.madeup.test.state", {"my_key": 1})
    alice.call("POST", f"/rooms/{quote(room)}/invite", {"user_id": bob.user_id})
    only = {"room": {"timeline": {"types": []}, "state": {"types": ["a.madeup.test.state"]},
                     "ephemeral": {"types": []}, "include_leave": True}, "presence": {"types": []}}
    bob.sync(since=None, filter=only)
    bob.join(room)
    bob.leave(room)
    left = room_of(bob.sync(filter=only), room, "leave")
    assert [(e["type"], e["content"]) for e in left["state"]["events"]] == [("a.madeup.test.state", {"my_key": 1})]


def test_current_state_appears_in_the_timeline_under_private_history(base_url):
    """Sytest "Current state appears in timeline in private history": a join the syncing user
    could not see (they had left a `joined` room) is part of the room's current state when they
    come back, and is in the timeline of their next sync (as Synapse does), else the client
    would never learn of that member."""
    for after in (0, 12):
        creator, syncer, invitee = (register(base_url, n) for n in ("creator", "syncer", "invitee"))
        room = public_room(creator, syncer)
        creator.state(room, "m.room.history_visibility", {"history_visibility": "joined"})
        creator.call("POST", f"/rooms/{quote(room)}/invite", {"user_id": invitee.user_id})
        syncer.sync(since=None)
        syncer.leave(room)
        invitee.join(room)
        for i in range(after):
            creator.send(room, f"m{i}")
        syncer.join(room)
        got = room_of(syncer.sync(), room)
        assert (invitee.user_id, "join") in [(e["state_key"], e["content"]["membership"])
                                             for e in got["timeline"]["events"] if e["type"] == "m.room.member"], after


def test_an_unthreaded_receipt_wins_over_a_threaded_one_on_the_same_event(base_url):
    """An m.receipt holds one entry per user and event: when a user has both, the unthreaded one
    is shown (MSC4102, Complement's TestThreadReceiptsInSyncMSC4102), whichever came last."""
    alice, bob = register(base_url, "alice"), register(base_url, "bob")
    room = public_room(alice, bob)
    a = alice.send(room, "root")
    b = alice.send(room, "in thread", **{"m.relates_to": {"rel_type": "m.thread", "event_id": a}})
    bob.sync(since=None)
    alice.call("POST", f"/rooms/{quote(room)}/receipt/m.read/{quote(b)}", {})
    alice.call("POST", f"/rooms/{quote(room)}/receipt/m.read/{quote(b)}", {"thread_id": a})
    for resp in (bob.sync(), bob.sync(since=None)):
        receipts = [e["content"] for e in room_of(resp, room)["ephemeral"]["events"] if e["type"] == "m.receipt"]
        entries = [c[b]["m.read"][alice.user_id] for c in receipts if alice.user_id in c.get(b, {}).get("m.read", {})]
        assert entries and all("thread_id" not in e for e in entries), receipts


def test_redundant_members_are_sent_again_only_when_asked(base_url):
    """Sytest "We (don't) send redundant membership state across incremental syncs": with
    include_redundant_members the senders' member events come again, but not the syncing user's
    own, who sent nothing ("We don't include herself as redundant")."""
    alice, bob, carol = (register(base_url, n) for n in ("alice", "bob", "carol"))
    room = public_room(alice, bob, carol)
    for i in range(3):
        bob.send(room, f"b{i}")
    carol.send(room, "c")
    for redundant in (False, True):
        lazy = {"room": {"state": {"lazy_load_members": True, "include_redundant_members": redundant},
                         "timeline": {"limit": 10}}}
        first = room_of(alice.sync(since=None, filter=lazy), room)
        assert {alice.user_id, bob.user_id, carol.user_id} <= set(members(first["state"]["events"]
                                                                          + first["timeline"]["events"]))
        bob.send(room, "more")
        carol.send(room, "more")
        got = room_of(alice.sync(filter=lazy), room)
        assert got["timeline"]["limited"] is False
        assert members(got["state"]["events"]) == (
            {bob.user_id: "join", carol.user_id: "join"} if redundant else {}), redundant
