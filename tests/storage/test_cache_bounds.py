"""What Hearth keeps in memory is bounded: the weighted LRU cache, and the event and state
caches built on it (whatever is read, they never hold more than their budget)."""
from __future__ import annotations

import random

import pytest

from appliance.core.cache import LruCache
from appliance.core.protocol import room_versions
from appliance.core.storage.stores.events import EVENT_OVERHEAD_BYTES, EventStore
from appliance.core.storage.stores.state import StateStore
from appliance.hearth import build_hearth

ALICE = "@alice:hearth.test"


# -- the cache itself -------------------------------------------------------------------------

def test_weight_never_exceeds_the_budget():
    cache: LruCache[int, str] = LruCache(1000)
    rng = random.Random(7)
    for i in range(20_000):
        cache.put(rng.randrange(5000), "v", rng.randrange(1, 120))
        assert cache.weight <= 1000
    assert 0 < len(cache) < 5000
    assert cache.weight == sum(w for _, w in cache._data.values())


def test_least_recently_used_goes_first():
    cache: LruCache[str, int] = LruCache(3)
    for k in "abc":
        cache.put(k, ord(k))
    assert cache.get("a") == ord("a")  # a is now the most recently used
    cache.put("d", 4)
    assert "b" not in cache and list(cache) == ["c", "a", "d"]
    assert cache.peek("c") == ord("c") and list(cache) == ["c", "a", "d"]  # peek keeps the order
    assert (cache.hits, cache.misses) == (1, 0)
    assert cache.get("b") is None and cache.misses == 1


def test_replacing_pop_and_clear_keep_the_weight_right():
    cache: LruCache[str, str] = LruCache(100)
    cache.put("a", "x", 40)
    cache.put("a", "y", 10)  # replaced, not added
    assert cache.weight == 10 and cache.get("a") == "y"
    cache.put("b", "z", 90)
    assert cache.weight == 100 and len(cache) == 2
    cache.put("c", "w", 1)  # a goes (least recently used), then the total fits
    assert "a" not in cache and cache.weight == 91
    assert cache.pop("b") == "z" and cache.weight == 1
    assert cache.pop("b") is None
    cache.clear()
    assert cache.weight == 0 and len(cache) == 0


def test_an_entry_heavier_than_the_budget_is_not_kept():
    cache: LruCache[str, str] = LruCache(100)
    cache.put("small", "s", 30)
    cache.put("huge", "h", 101)
    assert "huge" not in cache and cache.get("small") == "s" and cache.weight == 30
    with pytest.raises(ValueError):
        cache.put("neg", "n", -1)
    with pytest.raises(ValueError):
        LruCache(-1)


# -- the stores on a real database -------------------------------------------------------------

@pytest.fixture
async def hearth(settings):
    h = await build_hearth(settings)
    yield h
    await h.close()


async def _room_with_messages(hearth, n: int, body: str = "hello") -> tuple[str, list[str]]:
    v = room_versions.KNOWN["12"]
    create = await hearth.core.pipeline.create_event(None, ALICE, "m.room.create", {"room_version": "12"},
                                                state_key="", version=v)
    room_id = create.pdu.room_id
    await hearth.core.pipeline.create_event(room_id, ALICE, "m.room.member", {"membership": "join"}, state_key=ALICE)
    ids = []
    for i in range(n):
        p = await hearth.core.pipeline.create_event(room_id, ALICE, "m.room.message",
                                               {"msgtype": "m.text", "body": f"{body} {i}"})
        ids.append(p.pdu.event_id)
    return room_id, ids


async def test_event_cache_holds_at_most_its_budget(hearth):
    room_id, ids = await _room_with_messages(hearth, 60)
    budget = 10 * (EVENT_OVERHEAD_BYTES + 1000)
    store = EventStore(hearth.core.db, cache_bytes=budget)
    await store.room_version(room_id)
    for _ in range(2):  # every event read twice, one by one, in batches and by query
        for eid in ids:
            ev = await store.get_event(eid)
            assert ev is not None and ev.event_id == eid
            assert store._cache.weight <= budget
        got = await store.get_events(ids)
        assert set(got) == set(ids)
        assert store._cache.weight <= budget
        evs = await store.events_in_room(room_id)
        assert len(evs) == 62 and store._cache.weight <= budget
    assert 0 < len(store._cache) < len(ids)
    # An evicted event reads back the same from the database.
    first = ids[0]
    assert first not in store._cache
    again = await store.get_event(first)
    assert again is not None and again.pdu.content["body"] == "hello 0"


async def test_invalidated_and_forgotten_events_leave_the_cache(hearth):
    room_id, ids = await _room_with_messages(hearth, 5)
    store = EventStore(hearth.core.db)
    await store.room_version(room_id)
    await store.get_events(ids)
    weight = store._cache.weight
    store.invalidate(ids[0])
    assert ids[0] not in store._cache and store._cache.weight < weight
    store.forget_room(room_id, ids)
    assert store._cache.weight == 0 and len(store._cache) == 0


async def test_a_big_event_weighs_its_size(hearth):
    room_id, ids = await _room_with_messages(hearth, 3, body="x" * 30_000)
    store = EventStore(hearth.core.db, cache_bytes=50_000)
    await store.room_version(room_id)
    for eid in ids:
        await store.get_event(eid)
    # Each weighs ~30 KB of JSON plus the overhead: only one fits in 50 KB.
    assert len(store._cache) == 1 and ids[-1] in store._cache
    assert store._cache.weight > 30_000 + EVENT_OVERHEAD_BYTES


async def test_state_cache_holds_at_most_its_budget(hearth):
    v = room_versions.KNOWN["12"]
    create = await hearth.core.pipeline.create_event(None, ALICE, "m.room.create", {"room_version": "12"},
                                                state_key="", version=v)
    room_id = create.pdu.room_id
    await hearth.core.pipeline.create_event(room_id, ALICE, "m.room.member", {"membership": "join"}, state_key=ALICE)
    groups = []
    for i in range(40):
        p = await hearth.core.pipeline.create_event(room_id, ALICE, "org.example.state", {"i": i}, state_key=f"k{i}")
        groups.append(p.state_group)
    store = StateStore(hearth.core.db, cache_entries=200)
    for g in groups + groups[::-1]:
        state = await store.get_state(g)
        assert store.memory_entries() <= 200
    assert len(state) == 3  # create, member, k0
    assert 0 < len(store._cache) < len(groups)
    last = await store.get_state(groups[-1])
    assert last[("org.example.state", "k39")] and len(last) == 42
