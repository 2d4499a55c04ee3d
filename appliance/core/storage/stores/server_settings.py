"""The `server_settings` key/value table: stored settings (JSON values) and server secrets.

Keys without a dot are settings fields (`registration`, `presence_enabled`...); dotted keys
belong to one part of the server (`setup.*` for the wizard, `webui.*` for the web UI).
"""
from __future__ import annotations

import sqlite3

from ..database import Database


class ServerSettingsStore:
    def __init__(self, db: Database):
        self.db = db

    @staticmethod
    def read_file(path) -> dict[str, str]:
        """The stored values, read before the server starts (which listeners to open); {} for a
        database not made yet."""
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.Error:
            return {}
        try:
            return ServerSettingsStore.load_job(conn)
        except sqlite3.Error:
            return {}
        finally:
            conn.close()

    @staticmethod
    def load_job(conn: sqlite3.Connection) -> dict[str, str]:
        return {k: v for k, v in conn.execute("SELECT key, value FROM server_settings")}

    async def get(self, key: str) -> str | None:
        return await self.db.fetchval("SELECT value FROM server_settings WHERE key = ?", (key,))

    async def get_many(self, prefix: str = "") -> dict[str, str]:
        rows = await self.db.fetchall(
            "SELECT key, value FROM server_settings WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))
        return {row[0]: row[1] for row in rows}

    async def set_many(self, values: dict[str, str]) -> None:
        await self.db.write(lambda conn: self.set_many_job(conn, values))

    @staticmethod
    def set_many_job(conn: sqlite3.Connection, values: dict[str, str]) -> None:
        conn.executemany("INSERT INTO server_settings (key, value) VALUES (?, ?)"
                         " ON CONFLICT (key) DO UPDATE SET value = excluded.value", list(values.items()))

    @staticmethod
    def set_if_absent_job(conn: sqlite3.Connection, key: str, value: str) -> str:
        """Insert unless present; returns the value stored (for secrets made once)."""
        conn.execute("INSERT OR IGNORE INTO server_settings (key, value) VALUES (?, ?)", (key, value))
        return conn.execute("SELECT value FROM server_settings WHERE key = ?", (key,)).fetchone()[0]

    @staticmethod
    def has_job(conn: sqlite3.Connection, key: str) -> bool:
        return conn.execute("SELECT 1 FROM server_settings WHERE key = ?", (key,)).fetchone() is not None

    async def set_if_absent(self, key: str, value: str) -> str:
        return await self.db.write(lambda conn: self.set_if_absent_job(conn, key, value))

    async def delete(self, *keys: str) -> None:
        await self.db.write(lambda conn: self.delete_job(conn, *keys))

    @staticmethod
    def delete_job(conn: sqlite3.Connection, *keys: str) -> None:
        conn.executemany("DELETE FROM server_settings WHERE key = ?", [(k,) for k in keys])

    async def has_accounts_or_rooms(self) -> bool:
        """Whether anything was made under the server name yet (once so, the name cannot change)."""
        return bool(await self.db.fetchval("SELECT count(*) FROM users")
                    or await self.db.fetchval("SELECT count(*) FROM rooms"))
