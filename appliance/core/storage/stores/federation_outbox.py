"""The federation sender's queues (`federation_outbox`, migration 0250): our events waiting for
each destination, in stream order."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ..database import Database


class FederationOutboxStore:
    def __init__(self, db: Database):
        self.db = db

    @staticmethod
    def add_job(conn: sqlite3.Connection, rows: Iterable[tuple[str, int, str]]) -> None:
        """(destination, stream_pos, event_id) rows, in the stream consumer's batch."""
        conn.executemany("INSERT OR IGNORE INTO federation_outbox (destination, stream_pos, event_id)"
                         " VALUES (?, ?, ?)", list(rows))

    async def next_batch(self, destination: str, limit: int) -> list[tuple[int, str]]:
        rows = await self.db.fetchall(
            "SELECT stream_pos, event_id FROM federation_outbox WHERE destination = ? ORDER BY stream_pos LIMIT ?",
            (destination, limit))
        return [(r[0], r[1]) for r in rows]

    async def destinations(self) -> list[str]:
        return [r[0] for r in await self.db.fetchall("SELECT DISTINCT destination FROM federation_outbox")]

    async def pending(self, destination: str) -> int:
        return await self.db.fetchval("SELECT COUNT(*) FROM federation_outbox WHERE destination = ?",
                                      (destination,)) or 0

    async def sent(self, destination: str, upto_pos: int) -> None:
        await self.db.write(lambda conn: conn.execute(
            "DELETE FROM federation_outbox WHERE destination = ? AND stream_pos <= ?", (destination, upto_pos)))
