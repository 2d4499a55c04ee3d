"""The OAuth 2.0 API's tables (0150_oauth.sql): clients, authorization codes, device grants,
and which client each OAuth device belongs to. Codes and device codes are stored by hash."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from ..database import Database


@dataclass(frozen=True, slots=True)
class AuthCode:
    client_id: str
    user_id: str
    device_id: str
    scope: str
    redirect_uri: str
    code_challenge: str
    expires_ts: int
    used_ts: int | None


@dataclass(frozen=True, slots=True)
class DeviceGrant:
    client_id: str
    device_id: str
    scope: str
    expires_ts: int
    status: str
    user_id: str | None
    last_poll_ts: int
    user_code: str


class OAuthStore:
    def __init__(self, db: Database):
        self.db = db

    async def add_client(self, client_id: str, metadata: dict, now: int) -> None:
        await self.db.write(lambda conn: conn.execute(
            "INSERT INTO oauth_clients (client_id, metadata, created_ts) VALUES (?, ?, ?)",
            (client_id, json.dumps(metadata), now)))

    async def get_client(self, client_id: str) -> dict | None:
        raw = await self.db.fetchval("SELECT metadata FROM oauth_clients WHERE client_id = ?", (client_id,))
        return json.loads(raw) if raw is not None else None

    async def add_code(self, code_hash: str, code: AuthCode, now: int) -> None:
        """Store a code, dropping codes expired by `now` in the same write."""
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM oauth_codes WHERE expires_ts <= ?", (now,))
            conn.execute(
                "INSERT INTO oauth_codes (code_hash, client_id, user_id, device_id, scope, redirect_uri,"
                " code_challenge, expires_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (code_hash, code.client_id, code.user_id, code.device_id, code.scope, code.redirect_uri,
                 code.code_challenge, code.expires_ts))
        await self.db.write(job)

    async def spend_code(self, code_hash: str, now: int) -> AuthCode | None:
        """The code as it was before this call, marking it used (one write: two racing
        exchanges cannot both see it unused)."""
        def job(conn: sqlite3.Connection) -> AuthCode | None:
            row = conn.execute(
                "SELECT client_id, user_id, device_id, scope, redirect_uri, code_challenge, expires_ts, used_ts"
                " FROM oauth_codes WHERE code_hash = ?", (code_hash,)).fetchone()
            if row is None:
                return None
            if row[7] is None:
                conn.execute("UPDATE oauth_codes SET used_ts = ? WHERE code_hash = ?", (now, code_hash))
            return AuthCode(*row)
        return await self.db.write(job)

    async def add_device_grant(self, device_code_hash: str, user_code: str, client_id: str, device_id: str,
                               scope: str, expires_ts: int, now: int) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM oauth_device_grants WHERE expires_ts <= ?", (now - 3_600_000,))
            conn.execute(
                "INSERT INTO oauth_device_grants (device_code_hash, user_code, client_id, device_id, scope,"
                " expires_ts) VALUES (?, ?, ?, ?, ?, ?)",
                (device_code_hash, user_code, client_id, device_id, scope, expires_ts))
        await self.db.write(job)

    _GRANT_COLUMNS = "client_id, device_id, scope, expires_ts, status, user_id, last_poll_ts, user_code"

    async def device_grant_by_user_code(self, user_code: str) -> DeviceGrant | None:
        row = await self.db.fetchone(
            f"SELECT {self._GRANT_COLUMNS} FROM oauth_device_grants WHERE user_code = ?", (user_code,))
        return DeviceGrant(*row) if row else None

    async def decide_device_grant(self, user_code: str, user_id: str | None, now: int) -> bool:
        """Approve (user_id) or deny (None) a pending, unexpired grant; False if there is none."""
        status = "approved" if user_id is not None else "denied"
        cur = await self.db.write(lambda conn: conn.execute(
            "UPDATE oauth_device_grants SET status = ?, user_id = ? WHERE user_code = ? AND status = 'pending'"
            " AND expires_ts > ?", (status, user_id, user_code, now)))
        return cur.rowcount == 1

    async def poll_device_grant(self, device_code_hash: str, now: int) -> DeviceGrant | None:
        """The grant as it was; records this poll, and removes an approved grant (it is spent)."""
        def job(conn: sqlite3.Connection) -> DeviceGrant | None:
            row = conn.execute(f"SELECT {self._GRANT_COLUMNS} FROM oauth_device_grants"
                               " WHERE device_code_hash = ?", (device_code_hash,)).fetchone()
            if row is None:
                return None
            grant = DeviceGrant(*row)
            if grant.status == "approved":
                conn.execute("DELETE FROM oauth_device_grants WHERE device_code_hash = ?", (device_code_hash,))
            else:
                conn.execute("UPDATE oauth_device_grants SET last_poll_ts = ? WHERE device_code_hash = ?",
                             (now, device_code_hash))
            return grant
        return await self.db.write(job)

    async def add_session(self, user_id: str, device_id: str, client_id: str, scope: str, now: int) -> None:
        await self.db.write(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO oauth_sessions (user_id, device_id, client_id, scope, created_ts)"
            " VALUES (?, ?, ?, ?, ?)", (user_id, device_id, client_id, scope, now)))

    async def session_client(self, user_id: str, device_id: str) -> str | None:
        return await self.db.fetchval(
            "SELECT client_id FROM oauth_sessions WHERE user_id = ? AND device_id = ?", (user_id, device_id))

    async def session_scope(self, user_id: str, device_id: str) -> str | None:
        return await self.db.fetchval(
            "SELECT scope FROM oauth_sessions WHERE user_id = ? AND device_id = ?", (user_id, device_id))

    async def forget_sessions(self, user_id: str, device_ids: list[str]) -> None:
        await self.db.write(lambda conn: conn.executemany(
            "DELETE FROM oauth_sessions WHERE user_id = ? AND device_id = ?", [(user_id, d) for d in device_ids]))
