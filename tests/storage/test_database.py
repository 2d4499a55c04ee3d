"""The writer: group commit, one failing job does not undo the others, migrations apply once."""
from __future__ import annotations

import asyncio
import sqlite3

import pytest

from appliance.core.storage.database import Database
from appliance.core.storage.migrate import apply_migrations
from appliance.core.stream import Position, Stream


@pytest.fixture
async def db(tmp_path):
    d = Database(tmp_path / "t.db")
    await d.open()
    d.run_unqueued(lambda c: c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"))
    yield d
    await d.close()


async def test_failing_job_is_isolated_in_its_batch(db):
    def ok(k):
        return lambda c: c.execute("INSERT INTO t VALUES (?, 'x')", (k,)).lastrowid

    def bad(c):
        c.execute("INSERT INTO t VALUES (100, 'y')")
        raise ValueError("boom")

    results = await asyncio.gather(db.write(ok(1)), db.write(bad), db.write(ok(2)), return_exceptions=True)
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], ValueError)
    rows = await db.fetchall("SELECT k FROM t ORDER BY k")
    assert [r[0] for r in rows] == [1, 2]  # the failing job's own insert was rolled back


async def test_many_writers_share_few_commits(db):
    before = db.commits
    await asyncio.gather(*[db.write(lambda c, k=k: c.execute("INSERT INTO t VALUES (?, 'v')", (k,)))
                           for k in range(200)])
    assert await db.fetchval("SELECT COUNT(*) FROM t") == 200
    assert db.commits - before < 200


async def test_wal_and_full_sync(db):
    assert (await db.fetchval("PRAGMA journal_mode")) == "wal"
    assert db.run_unqueued(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 2  # FULL


def test_migrations_apply_once(tmp_path):
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    first = apply_migrations(conn, "core", "appliance.core.storage.migrations")
    assert first and first == sorted(first)
    assert apply_migrations(conn, "core", "appliance.core.storage.migrations") == []
    assert conn.execute("SELECT COUNT(*) FROM schema_migrations WHERE owner = 'core'").fetchone()[0] == len(first)


async def test_notifier_wakes_only_relevant_waiters():
    stream = Stream()
    since = stream.position()
    waiter_a = asyncio.create_task(stream.wait_for_change(["@a:x", "!room:x"], since, 5))
    waiter_b = asyncio.create_task(stream.wait_for_change(["@b:x"], since, 0.3))
    await asyncio.sleep(0.05)
    stream.advance(1, ["!room:x"])
    assert await asyncio.wait_for(waiter_a, 1) is True
    assert await waiter_b is False
    # A change made before the wait started is not missed.
    stream.advance(2, ["@b:x"])
    assert await stream.wait_for_change(["@b:x"], Position(1, 0), 5) is True
    assert stream.waiter_count() == 0


async def test_jobs_run_on_the_loop_and_long_ones_in_the_writer_thread(db):
    import threading

    def where(c):
        c.execute("INSERT INTO t (v) VALUES ('x')")
        return threading.current_thread().name

    assert await db.write(where) == threading.current_thread().name  # the event loop's
    assert await db.write(where, long=True) == "db-writer"
    # Queued together, they are one batch; holding a long job, it runs whole in the thread, in order.
    got = await asyncio.gather(db.write(where), db.write(where, long=True), db.write(where))
    assert got == ["db-writer"] * 3
    assert [r[0] for r in await db.fetchall("SELECT k FROM t ORDER BY k")] == [1, 2, 3, 4, 5]


async def test_a_write_waits_for_another_process_without_blocking_the_loop(db, tmp_path):
    other = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process (a `hearth` command) holds the write lock
    other.execute("INSERT INTO t VALUES (1, 'other')")
    write = asyncio.ensure_future(db.write(lambda c: c.execute("INSERT INTO t VALUES (2, 'ours')").rowcount))
    ticks = 0
    for _ in range(20):  # the loop keeps running while the write waits for the lock
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 20 and not write.done()
    other.execute("COMMIT")
    other.close()
    assert await asyncio.wait_for(write, 10) == 1
    assert [r[0] for r in await db.fetchall("SELECT v FROM t ORDER BY k")] == ["other", "ours"]
    assert await db.write(lambda c: c.execute("INSERT INTO t VALUES (3, 'loop')").rowcount) == 1


async def test_close_writes_what_was_queued(tmp_path):
    d = Database(tmp_path / "c.db")
    await d.open()
    d.run_unqueued(lambda c: c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
    futs = [d.submit(lambda c, k=k: c.execute("INSERT INTO t VALUES (?)", (k,))) for k in range(50)]
    await d.close()
    assert all(f.done() and f.exception() is None for f in futs)
    conn = sqlite3.connect(tmp_path / "c.db")
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 50
    conn.close()


async def test_checkpoints_run_in_their_own_thread_after_the_writes(db, monkeypatch):
    """A commit never copies the write-ahead log into the database file itself (one in ~50 took
    4–5 ms that way); the checkpointer does, once the writer is quiet, and close() does not wait
    out its sleep."""
    import time

    from appliance.core.storage import database

    safety = db.run_unqueued(lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
    assert safety == database.WAL_SAFETY_PAGES > 1000  # SQLite's default is 1000 pages
    for k in range(20):
        await db.write(lambda c, k=k: c.execute("INSERT INTO t VALUES (?, ?)", (k, "x" * 3000)))
    assert db.checkpoints == 0  # the writer has not been quiet yet
    assert db.path.stat().st_size < 20 * 3000  # the rows are in the write-ahead log only
    deadline = time.monotonic() + 5
    while db.checkpoints == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert db.checkpoints == 1
    assert db.path.stat().st_size > 20 * 3000  # copied into the database file
    await db.write(lambda c: c.execute("INSERT INTO t VALUES (100, 'y')"))  # wakes the checkpointer
    started = time.monotonic()
    await db.close()
    assert time.monotonic() - started < database.CHECKPOINT_QUIET_SECONDS
