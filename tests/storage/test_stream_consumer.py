"""The stream consumer (core/stream_consumer.py), on its own: a consumer over a real database
follows positions that a producer commits, in batches, each applied once; its own writes and its
saved position commit together or not at all; it continues from the saved position after a
restart; the stream wakes it (nothing polls); a failing consumer retries with backoff while
another carries on; exact readers wait until it has caught up.

The producer commits a row in `things` with each position it takes; the handler copies the
positions it is given into its own table, whose primary key makes a second application fail."""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from appliance.core.storage.database import Database
from appliance.core.storage.migrate import apply_migrations
from appliance.core.storage.stores.stream_consumers import StreamConsumerStore
from appliance.core.stream import Stream
from appliance.core.stream_consumer import Batch, StreamConsumer, apply_job

PACKAGE = "appliance.core.storage.migrations"


class Server:
    """A database with every migration, a stream loaded from it, a producer of positions."""

    def __init__(self, path: Path):
        self.path = path
        self.db = Database(path)
        self.stream = Stream()
        self.store = StreamConsumerStore(self.db)

    async def open(self) -> Server:
        await self.db.open()
        self.db.run_unqueued(lambda conn: apply_migrations(conn, "core", PACKAGE))
        self.db.run_unqueued(lambda conn: conn.executescript(
            "CREATE TABLE IF NOT EXISTS things (pos INTEGER PRIMARY KEY);"
            "CREATE TABLE IF NOT EXISTS copied (consumer TEXT NOT NULL, pos INTEGER NOT NULL,"
            " PRIMARY KEY (consumer, pos));"))
        self.db.run_unqueued(self.stream.load)
        return self

    async def produce(self, n: int, *, things: bool = True) -> list[int]:
        """Commit `n` positions (with a thing each, or with nothing a consumer cares about)."""
        out = []
        for _ in range(n):
            def job(conn: sqlite3.Connection) -> int:
                pos = self.stream.allocate(conn)
                if things:
                    conn.execute("INSERT INTO things (pos) VALUES (?)", (pos,))
                return pos

            pos = await self.db.write(job)
            self.stream.advance(pos)
            out.append(pos)
        return out

    async def copied(self, name: str) -> list[int]:
        rows = await self.db.fetchall("SELECT pos FROM copied WHERE consumer = ? ORDER BY pos", (name,))
        return [r[0] for r in rows]

    async def saved(self, name: str) -> int | None:
        return await self.store.position(name)


class Copier:
    """A handler: copies up to `limit` things per batch into `copied`."""

    def __init__(self, server: Server, name: str = "copier", limit: int = 3):
        self.server = server
        self.name = name
        self.limit = limit
        self.prepared: list[tuple[int, int]] = []  # (after, upto) of every prepare call
        self.applied: list[list[int]] = []
        self.fail_prepares = 0
        self.fail_writes = 0
        self.arrived = asyncio.Event()

    def consumer(self, **kw) -> StreamConsumer:
        return StreamConsumer(self.name, self.server.db, self.server.stream, self.server.store, self.prepare,
                              self.on_applied, **kw)

    async def prepare(self, after: int, upto: int) -> Batch[list[int]]:
        self.prepared.append((after, upto))
        if self.fail_prepares:
            self.fail_prepares -= 1
            raise RuntimeError("the remote end is down")
        rows = await self.server.db.fetchall(
            "SELECT pos FROM things WHERE pos > ? AND pos <= ? ORDER BY pos LIMIT ?", (after, upto, self.limit))
        if not rows:
            return Batch(upto)
        positions = [r[0] for r in rows]
        end = positions[-1] if len(positions) == self.limit else upto

        def write(conn: sqlite3.Connection) -> list[int]:
            conn.executemany("INSERT INTO copied (consumer, pos) VALUES (?, ?)", [(self.name, p) for p in positions])
            if self.fail_writes:
                self.fail_writes -= 1
                raise RuntimeError("the handler failed after writing")
            return positions

        return Batch(end, write)

    def on_applied(self, positions: list[int]) -> None:
        self.applied.append(positions)
        self.arrived.set()


@pytest.fixture
async def server(tmp_path):
    s = await Server(tmp_path / "hearth.db").open()
    yield s
    await s.db.close()


async def test_batches_cover_the_stream_in_order_each_position_once(server):
    copier = Copier(server, limit=3)
    consumer = copier.consumer()
    made = await server.produce(7)
    assert await consumer.catch_up() == server.stream.current
    assert copier.applied == [made[0:3], made[3:6], made[6:7]]
    assert await server.copied("copier") == made
    ranges = copier.prepared
    assert ranges[0][0] == 0 and all(a[1] >= b[0] for a, b in zip(ranges, ranges[1:]))
    assert await server.saved("copier") == server.stream.current == await consumer.position()


async def test_a_failing_write_leaves_the_position_and_writes_nothing(server):
    copier = Copier(server)
    consumer = copier.consumer()
    first = await server.produce(2)
    await consumer.catch_up()
    saved = await server.saved("copier")
    more = await server.produce(2)
    copier.fail_writes = 1
    with pytest.raises(RuntimeError, match="failed after writing"):
        await consumer.catch_up()
    assert await server.saved("copier") == saved == await consumer.position()
    assert await server.copied("copier") == first  # the batch's own insert was rolled back
    await consumer.catch_up()  # tried again: applied once
    assert await server.copied("copier") == first + more
    assert await server.saved("copier") == server.stream.current


async def test_a_failing_prepare_moves_nothing(server):
    copier = Copier(server)
    consumer = copier.consumer()
    made = await server.produce(2)
    copier.fail_prepares = 1
    with pytest.raises(RuntimeError):
        await consumer.catch_up()
    assert await consumer.position() == 0 and await server.saved("copier") == 0
    await consumer.catch_up()
    assert await server.copied("copier") == made


async def test_after_a_restart_it_continues_from_the_saved_position(tmp_path):
    path = tmp_path / "hearth.db"
    first = await Server(path).open()
    copier = Copier(first)
    before = await first.produce(4)
    await copier.consumer().catch_up()
    await first.produce(2, things=False)  # positions with nothing to write: moved in memory only
    await copier.consumer().catch_up()
    during = await first.produce(3)  # committed, never handled: the process ends here
    saved = await first.saved("copier")
    await first.db.close()
    assert saved == before[-1]

    second = await Server(path).open()
    try:
        after = await second.produce(2)
        copier = Copier(second)
        await copier.consumer().catch_up()
        assert copier.prepared[0][0] == saved  # from the saved position, not from the start
        assert await second.copied("copier") == before + during + after  # none twice, none missed
        assert await second.saved("copier") == second.stream.current
    finally:
        await second.db.close()


async def test_a_batch_is_not_applied_twice_when_the_saved_position_moved_elsewhere(server):
    copier = Copier(server)
    consumer = copier.consumer()
    first = await server.produce(2)
    await consumer.catch_up()
    saved = await server.saved("copier")
    later = await server.produce(2)

    def by_hand(conn: sqlite3.Connection) -> None:  # what a maintenance job or another writer could do
        apply_job(conn, "copier", saved, Batch(later[-1], lambda c: c.executemany(
            "INSERT INTO copied (consumer, pos) VALUES ('copier', ?)", [(p,) for p in later])))

    await server.db.write(by_hand)
    # The consumer still believes it is at `saved`: its batch for the same positions is refused
    # (else the primary key of `copied` would fail), and it carries on from where the row says.
    assert await consumer.catch_up() == server.stream.current
    assert await server.copied("copier") == first + later
    assert copier.applied == [first]


async def test_the_stream_wakes_the_background_task_and_it_never_polls(server):
    copier = Copier(server)
    task = asyncio.create_task(copier.consumer().run())
    try:
        await asyncio.sleep(0.05)
        idle_prepares = len(copier.prepared)
        await asyncio.sleep(0.2)
        assert len(copier.prepared) == idle_prepares  # asleep while nothing commits
        [pos] = await server.produce(1)
        await asyncio.wait_for(copier.arrived.wait(), 5)
        assert await server.copied("copier") == [pos]
        assert await server.saved("copier") == pos
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_failing_consumer_backs_off_while_another_carries_on(server):
    failing, healthy = Copier(server, "failing"), Copier(server, "healthy")
    failing.fail_prepares = 3
    slow = failing.consumer(min_backoff=0.05, max_backoff=0.2)
    tasks = [asyncio.create_task(slow.run()), asyncio.create_task(healthy.consumer().run())]
    try:
        [pos] = await server.produce(1)
        await asyncio.wait_for(healthy.arrived.wait(), 5)
        assert await server.copied("healthy") == [pos]
        assert await server.copied("failing") == []
        await asyncio.wait_for(failing.arrived.wait(), 5)
        assert await server.copied("failing") == [pos]
        assert failing.fail_prepares == 0 and slow.failures == 0  # reset once a batch went through
        assert len(failing.prepared) == 4  # three failures, one success: retried, not spun
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_an_exact_reader_waits_until_the_consumer_has_caught_up(server):
    copier = Copier(server)
    consumer = copier.consumer()
    await consumer.position()
    async with consumer.lock:  # a batch is under way elsewhere
        [pos] = await server.produce(1)
        reader = asyncio.create_task(consumer.catch_up(pos))
        await asyncio.sleep(0.05)
        assert not reader.done()
    assert await asyncio.wait_for(reader, 5) >= pos
    assert await server.copied("copier") == [pos]
    prepares = len(copier.prepared)
    assert await consumer.catch_up(pos) == pos  # already there: returns at once
    assert len(copier.prepared) == prepares


async def test_a_new_consumer_starts_at_the_beginning_or_at_the_current_position(server):
    made = await server.produce(3)
    old = Copier(server, "from-start")
    await old.consumer().catch_up()
    assert await server.copied("from-start") == made
    new = Copier(server, "from-now")
    consumer = new.consumer(start_at_current=True)
    assert await consumer.position() == server.stream.current
    later = await server.produce(1)
    await consumer.catch_up()
    assert await server.copied("from-now") == later


async def test_wait_past_returns_once_a_later_position_commits():
    stream = Stream()
    stream.advance(5)
    assert await stream.wait_past(4) == 5  # already past: at once
    waiter = asyncio.create_task(stream.wait_past(5))
    await asyncio.sleep(0.01)
    stream.advance(5)  # not a new position
    await asyncio.sleep(0.01)
    assert not waiter.done()
    stream.advance(6)
    assert await asyncio.wait_for(waiter, 1) == 6
