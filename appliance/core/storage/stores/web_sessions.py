"""Server-side web sessions (0080): looked up by the SHA-256 of the ID the cookie carries."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

from ..database import Database
from .accounts import now_ms


@dataclass(slots=True)
class WebSessionRow:
    session_hash: str
    user_id: str | None
    csrf_token: str
    data: dict = field(default_factory=dict)
    created_ts: int = 0
    last_seen_ts: int = 0
    expires_ts: int = 0


def _row(row: sqlite3.Row) -> WebSessionRow:
    return WebSessionRow(row["session_hash"], row["user_id"], row["csrf_token"], json.loads(row["data"]),
                         row["created_ts"], row["last_seen_ts"], row["expires_ts"])


class WebSessionStore:
    def __init__(self, db: Database):
        self.db = db

    async def create(self, session_hash: str, user_id: str | None, csrf_token: str, data: dict,
                     expires_ts: int) -> None:
        now = now_ms()

        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM web_sessions WHERE expires_ts < ?", (now,))
            conn.execute("INSERT INTO web_sessions (session_hash, user_id, csrf_token, data, created_ts,"
                         " last_seen_ts, expires_ts) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (session_hash, user_id, csrf_token, json.dumps(data), now, now, expires_ts))
        await self.db.write(job)

    async def get(self, session_hash: str) -> WebSessionRow | None:
        row = await self.db.fetchone("SELECT * FROM web_sessions WHERE session_hash = ? AND expires_ts >= ?",
                                     (session_hash, now_ms()))
        return _row(row) if row else None

    async def update(self, session_hash: str, *, data: dict | None = None, user_id: str | None = None,
                     set_user: bool = False, last_seen_ts: int | None = None, expires_ts: int | None = None) -> None:
        sets, params = [], []
        if data is not None:
            sets.append("data = ?"), params.append(json.dumps(data))
        if set_user:
            sets.append("user_id = ?"), params.append(user_id)
        if last_seen_ts is not None:
            sets.append("last_seen_ts = ?"), params.append(last_seen_ts)
        if expires_ts is not None:
            sets.append("expires_ts = ?"), params.append(expires_ts)
        if not sets:
            return
        params.append(session_hash)
        sql = f"UPDATE web_sessions SET {', '.join(sets)} WHERE session_hash = ?"
        await self.db.write(lambda conn: conn.execute(sql, params) and None)

    async def delete(self, session_hash: str) -> None:
        await self.db.write(lambda conn: conn.execute(
            "DELETE FROM web_sessions WHERE session_hash = ?", (session_hash,)) and None)

    async def delete_for_user(self, user_id: str) -> int:
        return await self.db.write(lambda conn: conn.execute(
            "DELETE FROM web_sessions WHERE user_id = ?", (user_id,)).rowcount)
