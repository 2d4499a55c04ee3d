"""Dehydrated devices (MSC3814): at most one per user, with the client's encrypted pickle."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from ..database import Database


class DehydratedDeviceStore:
    def __init__(self, db: Database):
        self.db = db

    async def get(self, user_id: str) -> tuple[str, dict] | None:
        """(device_id, device_data) of the user's dehydrated device, or None."""
        row = await self.db.fetchone(
            "SELECT device_id, device_data FROM dehydrated_devices WHERE user_id = ?", (user_id,))
        return (row[0], json.loads(row[1])) if row else None

    async def put(self, user_id: str, device_id: str, device_data_json: str, created_ts: int) -> None:
        """Set the user's dehydrated device, replacing the one before."""
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO dehydrated_devices (user_id, device_id, device_data, created_ts) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET device_id = excluded.device_id,"
                " device_data = excluded.device_data, created_ts = excluded.created_ts",
                (user_id, device_id, device_data_json, created_ts))

        await self.db.write(job)

    async def forget(self, user_id: str, device_ids: Iterable[str]) -> None:
        """Drop the record if it names one of `device_ids`."""
        rows = [(user_id, d) for d in device_ids]
        await self.db.write(lambda c: c.executemany(
            "DELETE FROM dehydrated_devices WHERE user_id = ? AND device_id = ?", rows))
