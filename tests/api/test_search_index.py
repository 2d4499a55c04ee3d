"""The batched full-text indexer: events are indexed behind their commit, by a background batch
or by the catch-up every search does first; its high-water mark is in the database, so events
persisted but not yet indexed when the process dies are indexed after it."""
from __future__ import annotations

import asyncio

from appliance.core.services.search_index import index_pending_job


def search_body(term: str) -> dict:
    return {"search_categories": {"room_events": {"search_term": term}}}


async def indexed_rows(hs) -> int:
    return await hs.hearth.core.db.fetchval("SELECT COUNT(*) FROM event_search")


async def mark(hs) -> int:
    return await hs.hearth.core.db.fetchval("SELECT pos FROM search_progress WHERE id = 1")


async def test_a_search_right_after_a_send_finds_it_before_any_batch(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    indexer = hs.hearth.reading.search.indexer
    indexer.delay = 3600  # no background batch during this test: only the search's catch-up
    eid = await hs.send(alice, room, {"msgtype": "m.text", "body": "zeppelins over the allotment"})
    res = await hs.ok("POST", "/search", alice, search_body("zeppelins"))
    assert [r["result"]["event_id"] for r in res["search_categories"]["room_events"]["results"]] == [eid]
    assert await mark(hs) == hs.hearth.core.stream.current


async def test_the_background_batch_indexes_without_a_search(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    hs.hearth.reading.search.indexer.delay = 0.01
    before = await indexed_rows(hs)
    for k in range(5):
        await hs.send(alice, room, {"msgtype": "m.text", "body": f"batched message {k}"})
    task = asyncio.create_task(hs.hearth.reading.search.indexer.run())  # the loop the app runs while serving
    try:
        for _ in range(200):
            if await indexed_rows(hs) >= before + 5:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await indexed_rows(hs) == before + 5
    assert await mark(hs) == hs.hearth.core.stream.current


async def test_events_left_unindexed_by_a_crash_are_indexed_from_the_mark(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    await hs.hearth.reading.search.indexer.catch_up()
    low = await mark(hs)
    await hs.send(alice, room, {"msgtype": "m.text", "body": "written before the power cut"})

    def power_cut(conn):  # the event committed, its batch never did (whether or not one ran here)
        conn.execute("DELETE FROM event_search WHERE rowid > ?", (low,))
        conn.execute("UPDATE search_progress SET pos = ?", (low,))

    await hs.hearth.core.db.write(power_cut)
    assert await hs.hearth.core.db.write(index_pending_job) == 0  # what the next start's first batch does
    assert await mark(hs) == hs.hearth.core.stream.current
    res = await hs.ok("POST", "/search", alice, search_body("power"))
    assert len(res["search_categories"]["room_events"]["results"]) == 1


async def test_an_event_redacted_before_it_was_indexed_is_never_indexed(hs):
    alice = await hs.user("alice")
    room = await hs.create_room(alice)
    hs.hearth.reading.search.indexer.delay = 3600
    await hs.hearth.reading.search.indexer.catch_up()
    before = await indexed_rows(hs)
    eid = await hs.send(alice, room, {"msgtype": "m.text", "body": "regrettable remark"})
    await hs.ok("PUT", f"/rooms/{room}/redact/{eid}/txn-redact", alice, {})
    res = await hs.ok("POST", "/search", alice, search_body("regrettable"))
    assert res["search_categories"]["room_events"]["results"] == []
    assert await indexed_rows(hs) == before
