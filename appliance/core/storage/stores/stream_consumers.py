"""Stream consumers' saved positions (`stream_consumers`, migration 0115): one row per consumer name.

The `*_job` functions run inside writer jobs, next to the consumer's own writes, so that a
position and what was done up to it commit together (core/stream_consumer.py).
"""
from __future__ import annotations

import sqlite3

from ..database import Database


class StreamConsumerStore:
    def __init__(self, db: Database):
        self.db = db

    async def position(self, name: str) -> int | None:
        """The saved position of a consumer; None if it has never been registered."""
        return await self.db.fetchval("SELECT pos FROM stream_consumers WHERE name = ?", (name,))

    @staticmethod
    def register_job(conn: sqlite3.Connection, name: str, start: int) -> int:
        """Give a new consumer its row at `start` (a known one keeps its own); returns its position."""
        conn.execute("INSERT OR IGNORE INTO stream_consumers (name, pos) VALUES (?, ?)", (name, start))
        return conn.execute("SELECT pos FROM stream_consumers WHERE name = ?", (name,)).fetchone()[0]

    @staticmethod
    def position_job(conn: sqlite3.Connection, name: str) -> int:
        row = conn.execute("SELECT pos FROM stream_consumers WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise LookupError(f"no stream consumer named {name!r}")
        return row[0]

    @staticmethod
    def move_job(conn: sqlite3.Connection, name: str, expected: int, pos: int) -> bool:
        """Move a consumer from `expected` to `pos`; False (nothing changed) if its saved
        position is not `expected` any more: what the caller was about to apply is not next."""
        return conn.execute("UPDATE stream_consumers SET pos = ? WHERE name = ? AND pos = ?",
                            (pos, name, expected)).rowcount == 1

    @staticmethod
    def advance_job(conn: sqlite3.Connection, name: str, pos: int) -> None:
        """Move a consumer to `pos` unless it is already there or beyond."""
        conn.execute("UPDATE stream_consumers SET pos = MAX(pos, ?) WHERE name = ?", (pos, name))
