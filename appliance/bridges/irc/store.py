"""The IRC bridge's own tables (migrations/0001_irc.sql), through its PluginStorage: every query of
the plugin is here, as the core's are in core/storage/stores/."""
from __future__ import annotations

import time

from ..api import PluginStorage


class IrcStore:
    def __init__(self, storage: PluginStorage):
        self.storage = storage

    async def user(self, user_id: str, network: str) -> tuple[str | None, str | None] | None:
        """(nick, encrypted password) a person set for a network, or None."""
        row = await self.storage.fetchone("SELECT nick, password FROM irc_users WHERE user_id = ? AND network = ?",
                                          (user_id, network))
        return (row[0], row[1]) if row is not None else None

    async def set_nick(self, user_id: str, network: str, nick: str) -> None:
        await self.storage.execute(
            "INSERT INTO irc_users (user_id, network, nick) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id, network) DO UPDATE SET nick = excluded.nick", (user_id, network, nick))

    async def set_password(self, user_id: str, network: str, encrypted: str) -> None:
        await self.storage.execute(
            "INSERT INTO irc_users (user_id, network, password) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id, network) DO UPDATE SET password = excluded.password",
            (user_id, network, encrypted))

    async def queue(self, event_id: str, user_id: str, network: str, lines: list[str]) -> list[int]:
        """The lines of one Matrix event into the outbox, and the event marked handled, in one
        transaction; the rows' ids in order."""
        now = int(time.time() * 1000)
        first = await self.storage.fetchone("SELECT COALESCE(MAX(id), 0) FROM irc_outbox")
        await self.storage.execute_many(
            [("INSERT OR IGNORE INTO irc_sent (event_id, sent_ts) VALUES (?, ?)", (event_id, now))]
            + [("INSERT INTO irc_outbox (user_id, network, line, queued_ts) VALUES (?, ?, ?, ?)",
                (user_id, network, line, now)) for line in lines])
        rows = await self.storage.fetchall(
            "SELECT id FROM irc_outbox WHERE id > ? AND user_id = ? AND network = ? ORDER BY id",
            ((first or (0,))[0], user_id, network))
        return [r[0] for r in rows][-len(lines):] if lines else []

    async def pending(self) -> list[tuple[int, str, str, str, int]]:
        """(id, user_id, network, line, queued_ts) of every line still waiting, oldest first."""
        return [tuple(r) for r in await self.storage.fetchall(
            "SELECT id, user_id, network, line, queued_ts FROM irc_outbox ORDER BY id")]

    async def unqueue(self, row_id: int) -> None:
        """Just before the line is written: from now on it counts as sent."""
        await self.storage.execute("DELETE FROM irc_outbox WHERE id = ?", (row_id,))

    async def was_sent(self, event_id: str) -> bool:
        return await self.storage.fetchone("SELECT 1 FROM irc_sent WHERE event_id = ?", (event_id,)) is not None

