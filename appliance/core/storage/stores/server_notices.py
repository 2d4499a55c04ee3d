"""Server notices: each user's notices room, and the admin transactions already sent (so that a
retried PUT .../send_server_notice/{txnId} sends nothing twice)."""
from __future__ import annotations

import sqlite3

from ..database import Database


class ServerNoticeStore:
    def __init__(self, db: Database):
        self.db = db

    async def room_of(self, user_id: str) -> str | None:
        return await self.db.fetchval("SELECT room_id FROM server_notice_rooms WHERE user_id = ?", (user_id,))

    async def all_rooms(self) -> set[str]:
        """Every user's notices room."""
        return {r[0] for r in await self.db.fetchall("SELECT room_id FROM server_notice_rooms")}

    async def is_room_of(self, user_id: str, room_id: str) -> bool:
        return await self.db.fetchval(
            "SELECT 1 FROM server_notice_rooms WHERE user_id = ? AND room_id = ?", (user_id, room_id)) is not None

    async def set_room(self, user_id: str, room_id: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO server_notice_rooms (user_id, room_id) VALUES (?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id", (user_id, room_id))

        await self.db.write(job)

    async def sent_for_txn(self, admin_user_id: str, device_id: str, txn_id: str) -> str | None:
        """The event ID the admin's device sent under this transaction ID, if it did."""
        return await self.db.fetchval(
            "SELECT event_id FROM server_notice_txns WHERE admin_user_id = ? AND device_id = ? AND txn_id = ?",
            (admin_user_id, device_id, txn_id))

    async def record_txn(self, admin_user_id: str, device_id: str, txn_id: str, event_id: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR IGNORE INTO server_notice_txns (admin_user_id, device_id, txn_id, event_id)"
                         " VALUES (?, ?, ?, ?)", (admin_user_id, device_id, txn_id, event_id))

        await self.db.write(job)
