"""Reports of events, rooms and users (`reports`), kept for the server's admin."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from ..database import Database


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    kind: str                  # event, room, user
    reporter: str
    room_id: str | None
    event_id: str | None
    target_user_id: str | None
    reason: str | None
    score: int | None
    received_ts: int

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}


_COLUMNS = "id, kind, reporter, room_id, event_id, target_user_id, reason, score, received_ts"


class ReportStore:
    def __init__(self, db: Database):
        self.db = db

    async def add(self, kind: str, reporter: str, room_id: str | None, event_id: str | None,
                  target_user_id: str | None, reason: str | None, score: int | None, received_ts: int) -> int:
        """Store a report; returns its ID."""
        def job(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO reports (kind, reporter, room_id, event_id, target_user_id, reason, score, received_ts)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, reporter, room_id, event_id, target_user_id, reason, score, received_ts))
            return int(cur.lastrowid)

        return await self.db.write(job)

    async def newest(self, limit: int, before_id: int) -> list[Report]:
        """Newest first, those with an ID below `before_id`."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM reports WHERE id < ? ORDER BY id DESC LIMIT ?", (before_id, limit))
        return [Report(*r) for r in rows]

    async def count(self) -> int:
        return await self.db.fetchval("SELECT COUNT(*) FROM reports") or 0

    async def get(self, report_id: int) -> Report | None:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM reports WHERE id = ?", (report_id,))
        return Report(*row) if row else None

    async def delete(self, report_id: int) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM reports WHERE id = ?", (report_id,)).rowcount > 0

        return await self.db.write(job)

    async def user_seen_in_a_room(self, user_id: str) -> bool:
        """Whether the user has (or had) a membership in any room here: a reportable remote user."""
        return await self.db.fetchval(
            "SELECT 1 FROM room_memberships WHERE user_id = ? LIMIT 1", (user_id,)) is not None
