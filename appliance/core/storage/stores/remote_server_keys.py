"""Other servers' signing keys (migration 0170), kept forever, validity only ever extended."""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ...protocol.server_key_responses import VerifyKey
from ..database import Database


class RemoteServerKeyStore:
    def __init__(self, db: Database):
        self.db = db

    async def get(self, server_name: str, key_id: str) -> VerifyKey | None:
        row = await self.db.fetchone(
            "SELECT verify_key, valid_until_ts, expired FROM remote_server_keys WHERE server_name = ? AND key_id = ?",
            (server_name, key_id))
        return VerifyKey(server_name, key_id, bytes(row[0]), row[1], bool(row[2])) if row else None

    async def put(self, keys: Sequence[VerifyKey], fetched_ts: int) -> None:
        def job(conn: sqlite3.Connection) -> None:
            for k in keys:
                # A key seen with a different public key is a forgery or a bug: keep the first.
                conn.execute(
                    "INSERT INTO remote_server_keys (server_name, key_id, verify_key, valid_until_ts, expired,"
                    " fetched_ts) VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (server_name, key_id) DO UPDATE SET"
                    "  valid_until_ts = max(valid_until_ts, excluded.valid_until_ts),"
                    "  expired = excluded.expired, fetched_ts = excluded.fetched_ts"
                    " WHERE verify_key = excluded.verify_key",
                    (k.server_name, k.key_id, k.key, k.valid_until_ts, int(k.expired), fetched_ts))

        await self.db.write(job)
