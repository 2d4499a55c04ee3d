"""Sends into one room share group commits: a message is built while the previous one is
still on its way to disk, and the room's DAG stays a line through state events too."""
from __future__ import annotations

import asyncio

import pytest

from appliance.core.protocol import room_versions
from appliance.hearth import build_hearth

ALICE = "@alice:hearth.test"


@pytest.fixture
async def hearth(settings):
    h = await build_hearth(settings)
    yield h
    await h.close()


async def _room(h):
    create = await h.core.pipeline.create_event(None, ALICE, "m.room.create", {"room_version": "12"}, state_key="",
                                           version=room_versions.V12)
    room_id = create.pdu.room_id
    await h.core.pipeline.create_event(room_id, ALICE, "m.room.member", {"membership": "join"}, state_key=ALICE)
    return room_id


async def test_messages_and_state_in_one_room_stay_linear_and_share_commits(hearth, settings):
    room_id = await _room(hearth)
    commits_before = hearth.core.db.commits

    def send(i):
        if i % 10 == 5:
            return hearth.core.pipeline.create_event(room_id, ALICE, "m.room.topic", {"topic": f"t{i}"}, state_key="")
        return hearth.core.pipeline.create_event(room_id, ALICE, "m.room.message", {"body": str(i)})

    results = await asyncio.gather(*[send(i) for i in range(60)])
    by_pos = sorted(results, key=lambda r: r.stream_pos)
    for before, after in zip(by_pos, by_pos[1:]):
        assert after.pdu.prev_event_ids == [before.pdu.event_id]
        assert after.pdu.depth == before.pdu.depth + 1
    # Events of one room were committed together, not one commit each.
    assert hearth.core.db.commits - commits_before < 60
    assert await hearth.core.event_store.forward_extremities(room_id) == [by_pos[-1].pdu.event_id]
    # The state after each message is the state of the event before it.
    last_topic = [r for r in by_pos if r.pdu.type == "m.room.topic"][-1]
    state = await hearth.core.pipeline.state_at(by_pos[-1].pdu.event_id)
    assert state[("m.room.topic", "")] == last_topic.pdu.event_id
    for r in results:
        stored = await hearth.core.event_store.get_event(r.pdu.event_id)
        assert stored is not None and stored.stream_pos == r.stream_pos
    assert not hearth.core.pipeline._in_flight  # nothing is left in flight once everything landed

    # After a restart the next event continues from what is on disk.
    await hearth.close()
    h2 = await build_hearth(settings)
    try:
        nxt = await h2.core.pipeline.create_event(room_id, ALICE, "m.room.message", {"body": "after"})
        assert nxt.pdu.prev_event_ids == [by_pos[-1].pdu.event_id]
    finally:
        await h2.close()


async def test_a_failed_write_leaves_nothing_in_flight(hearth):
    room_id = await _room(hearth)
    ok = await hearth.core.pipeline.create_event(room_id, ALICE, "m.room.message", {"body": "first"})
    # The same transaction key twice: the second insert breaks the unique index and fails.
    await hearth.core.pipeline.create_event(room_id, ALICE, "m.room.message", {"body": "a"}, txn_key="k1")
    with pytest.raises(Exception):
        await hearth.core.pipeline.create_event(room_id, ALICE, "m.room.message", {"body": "b"}, txn_key="k1")
    assert not hearth.core.pipeline._in_flight
    nxt = await hearth.core.pipeline.create_event(room_id, ALICE, "m.room.message", {"body": "next"})
    assert ok.pdu.event_id not in nxt.pdu.prev_event_ids
    assert await hearth.core.event_store.forward_extremities(room_id) == [nxt.pdu.event_id]


async def test_cached_extremities_follow_the_database(hearth):
    """The pipeline keeps each room's committed forward extremities in memory: after a burst
    of sends, a failed write and a request cancelled while its write was queued, they are
    what the database holds, and the next event points at them."""
    room_id = await _room(hearth)
    pipeline = hearth.core.pipeline

    async def on_disk():
        await hearth.core.db.write(lambda conn: None)  # everything queued before has committed
        return await hearth.core.event_store.forward_extremities(room_id)

    def send(i):
        if i % 7 == 3:
            return pipeline.create_event(room_id, ALICE, "m.room.topic", {"topic": f"t{i}"}, state_key="")
        return pipeline.create_event(room_id, ALICE, "m.room.message", {"body": str(i)})

    await asyncio.gather(*[send(i) for i in range(30)])
    assert pipeline._extremities[room_id] == await on_disk()

    await pipeline.create_event(room_id, ALICE, "m.room.message", {"body": "a"}, txn_key="dup")
    with pytest.raises(Exception):
        await pipeline.create_event(room_id, ALICE, "m.room.message", {"body": "b"}, txn_key="dup")
    nxt = await pipeline.create_event(room_id, ALICE, "m.room.message", {"body": "c"})
    assert await on_disk() == [nxt.pdu.event_id]
    assert pipeline._extremities.get(room_id, [nxt.pdu.event_id]) == [nxt.pdu.event_id]

    # Cancelled once its write is queued: the write still lands, and the cache learns of it.
    task = asyncio.create_task(pipeline.create_event(room_id, ALICE, "m.room.message", {"body": "gone"}))
    while room_id not in pipeline._in_flight:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    landed = await on_disk()
    assert landed != [nxt.pdu.event_id] and len(landed) == 1
    assert pipeline._extremities.get(room_id, landed) == landed
    after = await pipeline.create_event(room_id, ALICE, "m.room.message", {"body": "after"})
    assert after.pdu.prev_event_ids == landed
    assert await on_disk() == pipeline._extremities[room_id] == [after.pdu.event_id]


async def test_a_committed_event_is_cached_as_it_would_be_read_back(hearth):
    """Push evaluation and /sync read a new event right after its commit: the pipeline leaves
    it parsed in the event cache, equal to what a read of its row gives."""
    import json

    room_id = await _room(hearth)
    sent = await hearth.core.pipeline.create_event(room_id, ALICE, "m.room.message", {"body": "hi", "n": 5})
    cached = hearth.core.event_store._cache.peek(sent.pdu.event_id)
    assert cached is not None and cached.stream_pos == sent.stream_pos and cached.state_group == sent.state_group
    row = await hearth.core.db.fetchone("SELECT json, stream_pos, state_group, redacted_by, rejected, txn_key FROM events"
                                   " WHERE event_id = ?", (sent.pdu.event_id,))
    assert json.loads(row["json"]) == cached.pdu.data
    assert (row["stream_pos"], row["state_group"], row["redacted_by"], row["rejected"], row["txn_key"]) == (
        cached.stream_pos, cached.state_group, cached.redacted_by, cached.rejected, cached.txn_key)
