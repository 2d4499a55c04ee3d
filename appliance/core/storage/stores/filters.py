"""Uploaded filters (`user_filters`): per user, numbered from 0 by a per-user counter."""
from __future__ import annotations

import sqlite3

from ..database import Database


class FilterStore:
    def __init__(self, db: Database):
        self.db = db

    async def add(self, user_id: str, filter_json: str) -> int:
        """Store a filter under the user's next ID; returns the ID."""
        def job(conn: sqlite3.Connection) -> int:
            top = conn.execute("SELECT MAX(filter_id) FROM user_filters WHERE user_id = ?", (user_id,)).fetchone()[0]
            fid = (top if top is not None else -1) + 1
            conn.execute("INSERT INTO user_filters (user_id, filter_id, filter_json) VALUES (?, ?, ?)",
                         (user_id, fid, filter_json))
            return fid

        return await self.db.write(job)

    async def get(self, user_id: str, filter_id: int) -> str | None:
        """The filter's JSON text as uploaded, or None."""
        return await self.db.fetchval(
            "SELECT filter_json FROM user_filters WHERE user_id = ? AND filter_id = ?", (user_id, filter_id))
