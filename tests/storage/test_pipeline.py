"""The event pipeline on a real SQLite database: PDUs, state after each event, the stream."""
from __future__ import annotations

import asyncio

import pytest

from appliance.core.protocol import room_versions
from appliance.core.protocol.errors import Forbidden, TooLarge
from appliance.core.protocol.hashes import check_content_hash, compute_event_id
from appliance.core.protocol.signing import verify_event_signature
from appliance.hearth import build_hearth

ALICE = "@alice:hearth.test"
BOB = "@bob:hearth.test"


async def make_room(hearth, version):
    create = await hearth.core.pipeline.create_event(
        None if version.event_format.room_id_is_create_hash else f"!room{version.id}:hearth.test",
        ALICE, "m.room.create", {"room_version": version.id}, state_key="", version=version)
    room_id = create.pdu.room_id
    await hearth.core.pipeline.create_event(room_id, ALICE, "m.room.member", {"membership": "join"}, state_key=ALICE)
    await hearth.core.pipeline.create_event(room_id, ALICE, "m.room.power_levels",
                                       {"users": {} if version.auth.privileged_creators else {ALICE: 100}},
                                       state_key="")
    await hearth.core.pipeline.create_event(room_id, ALICE, "m.room.join_rules", {"join_rule": "public"}, state_key="")
    return room_id


@pytest.fixture
async def hearth(settings):
    h = await build_hearth(settings)
    yield h
    await h.close()


@pytest.mark.parametrize("version_id", sorted(room_versions.KNOWN, key=int))
async def test_every_room_version_builds_signed_pdus(hearth, version_id):
    version = room_versions.KNOWN[version_id]
    room_id = await make_room(hearth, version)
    sent = await hearth.core.pipeline.create_event(room_id, ALICE, "m.room.message", {"msgtype": "m.text", "body": "hi"})
    pdu = sent.pdu
    data = pdu.data
    assert check_content_hash(data)
    verify_event_signature(data, "hearth.test", hearth.core.signing_key.key_id, hearth.core.signing_key.verify_key_bytes, version)
    if version.event_ids is not room_versions.EventIdFormat.V1:
        assert compute_event_id(data, version) == pdu.event_id
        assert "event_id" not in data
    else:
        assert data["event_id"] == pdu.event_id
        assert all(isinstance(p, list) and "sha256" in p[1] for p in data["prev_events"])
    assert len(pdu.prev_event_ids) == 1
    # create (not listed from v12), power levels, the sender's membership
    assert len(pdu.auth_event_ids) == (3 if version.auth.create_event_in_auth_events else 2)
    assert data["depth"] == 5
    # The state after the message is the state after the join rules event.
    state = await hearth.core.pipeline.state_at(pdu.event_id)
    assert set(state) == {("m.room.create", ""), ("m.room.member", ALICE), ("m.room.power_levels", ""),
                          ("m.room.join_rules", "")}
    assert await hearth.core.event_store.forward_extremities(room_id) == [pdu.event_id]


async def test_unauthorised_events_are_refused_and_not_stored(hearth):
    room_id = await make_room(hearth, room_versions.V12)
    with pytest.raises(Forbidden):
        await hearth.core.pipeline.create_event(room_id, BOB, "m.room.message", {"body": "not a member"})
    await hearth.core.pipeline.create_event(room_id, BOB, "m.room.member", {"membership": "join"}, state_key=BOB)
    with pytest.raises(Forbidden):  # state_default is 50 and Bob has 0
        await hearth.core.pipeline.create_event(room_id, BOB, "m.room.topic", {"topic": "mine"}, state_key="")
    with pytest.raises(TooLarge):
        await hearth.core.pipeline.create_event(room_id, BOB, "m.room.message", {"body": "x" * 70000})
    assert set(await hearth.core.event_store.members(room_id)) == {ALICE, BOB}


async def test_state_survives_restart_and_stream_continues(settings):
    h = await build_hearth(settings)
    room_id = await make_room(h, room_versions.V10)
    last = await h.core.pipeline.create_event(room_id, ALICE, "m.room.topic", {"topic": "dinner"}, state_key="")
    pos_before = h.core.stream.current
    await h.close()

    h2 = await build_hearth(settings)
    try:
        assert h2.core.stream.current == pos_before
        state = await h2.core.pipeline.state_at(last.pdu.event_id)
        assert state[("m.room.topic", "")] == last.pdu.event_id
        nxt = await h2.core.pipeline.create_event(room_id, ALICE, "m.room.message", {"body": "after restart"})
        assert nxt.stream_pos > pos_before
        assert nxt.pdu.prev_event_ids == [last.pdu.event_id]
    finally:
        await h2.close()


async def test_concurrent_sends_share_group_commits_and_stay_linear(hearth):
    room_id = await make_room(hearth, room_versions.V12)
    commits_before = hearth.core.db.commits
    results = await asyncio.gather(*[
        hearth.core.pipeline.create_event(room_id, ALICE, "m.room.message", {"body": str(i)}) for i in range(40)])
    positions = [r.stream_pos for r in results]
    assert len(set(positions)) == 40
    # Within one room each event points at the one before it: the DAG stays a line.
    by_pos = sorted(results, key=lambda r: r.stream_pos)
    for before, after in zip(by_pos, by_pos[1:]):
        assert after.pdu.prev_event_ids == [before.pdu.event_id]
    assert hearth.core.db.commits - commits_before <= 40


async def test_state_group_chains_are_cut(hearth):
    room_id = await make_room(hearth, room_versions.V12)
    last = None
    for i in range(hearth.core.state_store.MAX_CHAIN * 2 + 3):
        last = await hearth.core.pipeline.create_event(room_id, ALICE, "m.room.topic", {"topic": str(i)}, state_key="")
    hearth.core.state_store._cache.clear()
    state = await hearth.core.state_store.get_state(last.state_group)
    assert state[("m.room.topic", "")] == last.pdu.event_id
    chain = await hearth.core.db.fetchval("SELECT chain_length FROM state_groups WHERE id = ?", (last.state_group,))
    assert chain <= hearth.core.state_store.MAX_CHAIN
