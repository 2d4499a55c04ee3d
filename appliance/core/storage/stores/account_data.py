"""Account data (global: room_id '', or per room), one row per (user, room, type)."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from ...protocol.canonical_json import encode_canonical_json
from ..database import Database


@dataclass(frozen=True, slots=True)
class AccountDataRow:
    room_id: str  # '' for global
    type: str
    content: dict[str, Any]
    stream_pos: int


class AccountDataStore:
    def __init__(self, db: Database):
        self.db = db

    async def get(self, user_id: str, room_id: str, type_: str) -> dict[str, Any] | None:
        text = await self.db.fetchval(
            "SELECT content FROM account_data WHERE user_id = ? AND room_id = ? AND type = ?",
            (user_id, room_id, type_))
        return json.loads(text) if text is not None else None

    async def changed(self, user_id: str, after: int, upto: int) -> list[AccountDataRow]:
        """Rows changed in (after, upto], global and per room; all of them when after is 0."""
        rows = await self.db.fetchall(
            "SELECT room_id, type, content, stream_pos FROM account_data"
            " WHERE user_id = ? AND stream_pos > ? AND stream_pos <= ? ORDER BY stream_pos",
            (user_id, after, upto))
        return [AccountDataRow(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]

    async def all_of(self, user_id: str) -> list[AccountDataRow]:
        """Everything of a user, global and per room, by room then type."""
        rows = await self.db.fetchall(
            "SELECT room_id, type, content, stream_pos FROM account_data WHERE user_id = ? ORDER BY room_id, type",
            (user_id,))
        return [AccountDataRow(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]

    @staticmethod
    def put_job(conn: sqlite3.Connection, user_id: str, room_id: str, type_: str,
                content: dict[str, Any], pos: int) -> None:
        conn.execute(
            "INSERT INTO account_data (user_id, room_id, type, content, stream_pos) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = excluded.content,"
            " stream_pos = excluded.stream_pos",
            (user_id, room_id, type_, encode_canonical_json(content).decode(), pos))
