"""Read receipts: the latest receipt per (room, type, user, thread)."""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from ..database import Database


@dataclass(frozen=True, slots=True)
class Receipt:
    room_id: str
    receipt_type: str
    user_id: str
    thread_id: str  # '' when unthreaded
    event_id: str
    ts: int
    stream_pos: int


_COLS = "room_id, receipt_type, user_id, thread_id, event_id, ts, stream_pos"


class ReceiptStore:
    def __init__(self, db: Database):
        self.db = db

    async def get(self, room_id: str, receipt_type: str, user_id: str, thread_id: str) -> Receipt | None:
        row = await self.db.fetchone(
            f"SELECT {_COLS} FROM receipts WHERE room_id = ? AND receipt_type = ? AND user_id = ?"
            " AND thread_id = ?", (room_id, receipt_type, user_id, thread_id))
        return Receipt(*row) if row else None

    async def changed(self, room_ids: Sequence[str], after: int, upto: int) -> list[Receipt]:
        out: list[Receipt] = []
        room_ids = list(room_ids)
        for i in range(0, len(room_ids), 500):
            chunk = room_ids[i:i + 500]
            rows = await self.db.fetchall(
                f"SELECT {_COLS} FROM receipts WHERE room_id IN ({','.join('?' * len(chunk))})"
                " AND stream_pos > ? AND stream_pos <= ? ORDER BY stream_pos", (*chunk, after, upto))
            out += [Receipt(*r) for r in rows]
        return out

    async def changed_anywhere(self, after: int, upto: int, limit: int = 1000) -> list[Receipt]:
        """Receipts of every room changed in (after, upto], in stream order (appservice transactions)."""
        rows = await self.db.fetchall(
            f"SELECT {_COLS} FROM receipts WHERE stream_pos > ? AND stream_pos <= ? ORDER BY stream_pos LIMIT ?",
            (after, upto, int(limit)))
        return [Receipt(*r) for r in rows]

    @staticmethod
    def put_job(conn: sqlite3.Connection, r: Receipt) -> None:
        conn.execute(
            f"INSERT INTO receipts ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE SET"
            " event_id = excluded.event_id, ts = excluded.ts, stream_pos = excluded.stream_pos",
            (r.room_id, r.receipt_type, r.user_id, r.thread_id, r.event_id, r.ts, r.stream_pos))
