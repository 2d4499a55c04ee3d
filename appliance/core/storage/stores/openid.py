"""OpenID tokens (`openid_tokens`), stored by SHA-256 hash with their expiry."""
from __future__ import annotations

import sqlite3

from ..database import Database


class OpenIdTokenStore:
    def __init__(self, db: Database):
        self.db = db

    async def add(self, token_hash: str, user_id: str, expires_ts: int, now_ms: int) -> None:
        """Store a token, dropping those expired by `now_ms` in the same transaction."""
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM openid_tokens WHERE expires_ts <= ?", (now_ms,))
            conn.execute("INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES (?, ?, ?)",
                         (token_hash, user_id, expires_ts))

        await self.db.write(job)

    async def get(self, token_hash: str) -> tuple[str, int] | None:
        """(user_id, expires_ts) of a token, or None."""
        row = await self.db.fetchone("SELECT user_id, expires_ts FROM openid_tokens WHERE token_hash = ?",
                                     (token_hash,))
        return (row[0], row[1]) if row is not None else None
