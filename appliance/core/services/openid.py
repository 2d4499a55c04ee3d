"""OpenID (modules/openid, openid.yaml; server-server "OpenID"): short-lived tokens that prove
to a third-party service which Matrix user holds them.

A token is good only for GET /_matrix/federation/v1/openid/userinfo, never as an access token:
it lives in its own table, stored as a SHA-256 hash, and expires after an hour.
"""
from __future__ import annotations

import secrets
import sqlite3
import time
from typing import Any

from ..protocol.errors import UnknownToken
from ..storage.database import Database
from .auth import hash_token

EXPIRES_IN_S = 3600


def _now_ms() -> int:
    return int(time.time() * 1000)


class OpenIdService:
    def __init__(self, db: Database, server_name: str, expires_in_s: int = EXPIRES_IN_S):
        self.db = db
        self.server_name = server_name
        self.expires_in_s = expires_in_s

    async def request_token(self, user_id: str) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        now = _now_ms()

        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM openid_tokens WHERE expires_ts <= ?", (now,))
            conn.execute("INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES (?, ?, ?)",
                         (hash_token(token), user_id, now + self.expires_in_s * 1000))

        await self.db.write(job)
        return {"access_token": token, "token_type": "Bearer", "matrix_server_name": self.server_name,
                "expires_in": self.expires_in_s}

    async def userinfo(self, token: str | None) -> dict[str, Any]:
        """The federation check: {"sub": user_id}, or M_UNKNOWN_TOKEN."""
        if not token:
            raise UnknownToken("Access token unknown or expired")
        row = await self.db.fetchone("SELECT user_id, expires_ts FROM openid_tokens WHERE token_hash = ?",
                                     (hash_token(token),))
        if row is None or row[1] <= _now_ms():
            raise UnknownToken("Access token unknown or expired")
        return {"sub": row[0]}
