"""The send-to-device inbox: messages per device, kept until the device's sync acknowledges them."""
from __future__ import annotations

import json
import sqlite3
import time

from ...protocol.canonical_json import encode_canonical_json
from ..database import Database


class ToDeviceStore:
    def __init__(self, db: Database):
        self.db = db

    @staticmethod
    def claim_txn_job(conn: sqlite3.Connection, user_id: str, device_id: str, txn_id: str) -> bool:
        """Record a transaction ID; False if it was seen before (the request is a retry)."""
        cur = conn.execute(
            "INSERT OR IGNORE INTO to_device_txns (user_id, device_id, txn_id, created_ts) VALUES (?, ?, ?, ?)",
            (user_id, device_id, txn_id, int(time.time() * 1000)))
        return cur.rowcount == 1

    @staticmethod
    def device_ids_job(conn: sqlite3.Connection, user_id: str) -> list[str]:
        return [r[0] for r in conn.execute("SELECT device_id FROM devices WHERE user_id = ?", (user_id,))]

    @staticmethod
    def delete_device_job(conn: sqlite3.Connection, user_id: str, device_id: str) -> None:
        """A deleted device's messages and delivery records go with it."""
        conn.execute("DELETE FROM to_device_inbox WHERE user_id = ? AND device_id = ?", (user_id, device_id))
        conn.execute("DELETE FROM to_device_deliveries WHERE user_id = ? AND device_id = ?", (user_id, device_id))

    @staticmethod
    def add_messages_job(conn: sqlite3.Connection, pos: int, messages: list[tuple[str, str, dict]]) -> None:
        conn.executemany(
            "INSERT INTO to_device_inbox (user_id, device_id, stream_pos, message_json) VALUES (?, ?, ?, ?)",
            [(u, d, pos, encode_canonical_json(m).decode()) for u, d, m in messages])

    async def messages_between(self, after: int, upto: int, limit: int = 1000) -> list[tuple[str, str, dict]]:
        """(user ID, device ID, message) of every to-device message queued in (after, upto], in
        order (appservice transactions)."""
        rows = await self.db.fetchall(
            "SELECT user_id, device_id, message_json FROM to_device_inbox WHERE stream_pos > ? AND stream_pos <= ?"
            " ORDER BY id LIMIT ?", (after, upto, int(limit)))
        return [(r[0], r[1], json.loads(r[2])) for r in rows]

    async def delivery_limit(self, user_id: str, device_id: str, token_pos: int) -> int | None:
        """The last message ID a limited delivery with next token `token_pos` handed out."""
        return await self.db.fetchval(
            "SELECT last_id FROM to_device_deliveries WHERE user_id = ? AND device_id = ? AND token_pos = ?",
            (user_id, device_id, token_pos))

    async def has_acknowledgeable(self, user_id: str, device_id: str, up_to_pos: int, up_to_id: int | None) -> bool:
        return await self.db.fetchval(
            "SELECT 1 FROM to_device_inbox WHERE user_id = ? AND device_id = ? AND stream_pos <= ?"
            " AND (? IS NULL OR id <= ?) LIMIT 1", (user_id, device_id, up_to_pos, up_to_id, up_to_id)) is not None

    async def acknowledge(self, user_id: str, device_id: str, up_to_pos: int, up_to_id: int | None) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM to_device_inbox WHERE user_id = ? AND device_id = ? AND stream_pos <= ?"
                " AND (? IS NULL OR id <= ?)", (user_id, device_id, up_to_pos, up_to_id, up_to_id))
            conn.execute("DELETE FROM to_device_deliveries WHERE user_id = ? AND device_id = ? AND token_pos <= ?",
                         (user_id, device_id, up_to_pos))
        await self.db.write(job)

    async def pending(self, user_id: str, device_id: str, up_to_pos: int, limit: int) -> list[tuple[int, dict]]:
        rows = await self.db.fetchall(
            "SELECT id, message_json FROM to_device_inbox WHERE user_id = ? AND device_id = ? AND stream_pos <= ?"
            " ORDER BY id LIMIT ?", (user_id, device_id, up_to_pos, limit))
        return [(r[0], json.loads(r[1])) for r in rows]

    async def has_pending(self, user_id: str, device_id: str, after_id: int = 0) -> bool:
        return await self.db.fetchval(
            "SELECT 1 FROM to_device_inbox WHERE user_id = ? AND device_id = ? AND id > ? LIMIT 1",
            (user_id, device_id, after_id)) is not None

    async def record_limited_delivery(self, user_id: str, device_id: str, token_pos: int, last_id: int) -> None:
        await self.db.write(lambda c: c.execute(
            "INSERT INTO to_device_deliveries (user_id, device_id, token_pos, last_id) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (user_id, device_id, token_pos) DO UPDATE SET last_id = excluded.last_id",
            (user_id, device_id, token_pos, last_id)))

    async def page_after(self, user_id: str, device_id: str, after_id: int, limit: int) -> list[tuple[int, dict]]:
        """(id, message) of the device's messages with an ID above `after_id`, oldest first."""
        rows = await self.db.fetchall(
            "SELECT id, message_json FROM to_device_inbox WHERE user_id = ? AND device_id = ? AND id > ?"
            " ORDER BY id LIMIT ?", (user_id, device_id, after_id, limit))
        return [(r[0], json.loads(r[1])) for r in rows]

    async def delete_up_to_id(self, user_id: str, device_id: str, up_to_id: int) -> None:
        await self.db.write(lambda c: c.execute(
            "DELETE FROM to_device_inbox WHERE user_id = ? AND device_id = ? AND id <= ?",
            (user_id, device_id, up_to_id)))
