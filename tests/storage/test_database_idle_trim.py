"""SQLite's page caches are sized, and dropped (with the allocator's free pages given back)
once the database has been idle for a moment after writes."""
from __future__ import annotations

import asyncio
import platform

from appliance.core import memory
from appliance.core.storage.database import READER_CACHE_KIB, WRITER_CACHE_KIB, Database


async def test_page_caches_are_sized(tmp_path):
    db = Database(tmp_path / "t.db")
    await db.open()
    try:
        assert db.run_unqueued(lambda c: c.execute("PRAGMA cache_size").fetchone()[0]) == -WRITER_CACHE_KIB
        assert await db.fetchval("PRAGMA cache_size") == -READER_CACHE_KIB
    finally:
        await db.close()


async def test_idle_after_writes_drops_the_page_caches(tmp_path):
    db = Database(tmp_path / "t.db")
    db.IDLE_TRIM_SECONDS = 0.05
    await db.open()
    try:
        db.run_unqueued(lambda c: c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"))
        await db.write(lambda c: c.executemany("INSERT INTO t VALUES (?, ?)", [(i, "x" * 200) for i in range(2000)]))
        for _ in range(200):  # the writer trims once it has been idle for IDLE_TRIM_SECONDS
            if db.idle_trims:
                break
            await asyncio.sleep(0.02)
        assert db.idle_trims == 1
        await asyncio.sleep(0.2)
        assert db.idle_trims == 1  # once per quiet spell, not again and again while idle
        await db.write(lambda c: c.execute("INSERT INTO t VALUES (5000, 'y')"))
        for _ in range(200):
            if db.idle_trims == 2:
                break
            await asyncio.sleep(0.02)
        assert db.idle_trims == 2
        assert await db.fetchval("SELECT COUNT(*) FROM t") == 2001  # nothing lost by trimming
    finally:
        await db.close()


def test_release_free_memory_finds_malloc_trim_on_glibc():
    released = memory.release_free_memory()
    assert isinstance(released, bool)
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert memory._trim not in (None, False)
