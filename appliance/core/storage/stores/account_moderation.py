"""The locked and suspended flags of accounts (users.locked, users.suspended)."""
from __future__ import annotations

from ..database import Database


class AccountModerationStore:
    def __init__(self, db: Database):
        self.db = db

    async def set_locked(self, user_id: str, locked: bool) -> None:
        await self.db.write(lambda conn: conn.execute(
            "UPDATE users SET locked = ? WHERE user_id = ?", (int(locked), user_id)))

    async def set_suspended(self, user_id: str, suspended: bool) -> None:
        await self.db.write(lambda conn: conn.execute(
            "UPDATE users SET suspended = ? WHERE user_id = ?", (int(suspended), user_id)))
