"""Disk usage samples (`disk_samples`, migration 0086) behind the dashboard's disk-full forecast."""
from __future__ import annotations

import sqlite3

from ..database import Database


class DiskSampleStore:
    def __init__(self, db: Database):
        self.db = db

    async def add_spaced(self, ts: int, used_bytes: int, total_bytes: int, *, min_gap_ms: int | None,
                         drop_before_ts: int) -> bool:
        """Store a sample unless one was stored less than `min_gap_ms` before (None: store anyway),
        and drop those older than `drop_before_ts`; True if stored."""
        def job(conn: sqlite3.Connection) -> bool:
            last = conn.execute("SELECT max(ts) FROM disk_samples").fetchone()[0]
            if min_gap_ms is not None and last is not None and ts - last < min_gap_ms:
                return False
            conn.execute("INSERT OR REPLACE INTO disk_samples (ts, used_bytes, total_bytes) VALUES (?, ?, ?)",
                         (ts, used_bytes, total_bytes))
            conn.execute("DELETE FROM disk_samples WHERE ts < ?", (drop_before_ts,))
            return True

        return await self.db.write(job)

    async def add(self, ts: int, used_bytes: int, total_bytes: int) -> None:
        await self.db.write(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO disk_samples (ts, used_bytes, total_bytes) VALUES (?, ?, ?)",
            (ts, used_bytes, total_bytes)))

    async def since(self, ts: int) -> list[tuple[int, int]]:
        """(ts, used_bytes) of the samples from `ts` on, oldest first."""
        rows = await self.db.fetchall("SELECT ts, used_bytes FROM disk_samples WHERE ts >= ? ORDER BY ts", (ts,))
        return [(r[0], r[1]) for r in rows]
