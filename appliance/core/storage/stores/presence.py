"""Presence rows (one per user who set presence), and the room memberships that decide who sees them."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..database import Database


@dataclass(frozen=True, slots=True)
class PresenceRow:
    user_id: str
    state: str                 # as set: online, unavailable, offline
    status_msg: str | None
    last_active_ts: int
    stream_pos: int


_COLS = "user_id, state, status_msg, last_active_ts, stream_pos"


class PresenceStore:
    def __init__(self, db: Database):
        self.db = db

    async def get(self, user_id: str) -> PresenceRow | None:
        r = await self.db.fetchone(f"SELECT {_COLS} FROM presence WHERE user_id = ?", (user_id,))
        return PresenceRow(*r) if r is not None else None

    async def changed_for(self, user_id: str, after: int, upto: int) -> list[PresenceRow]:
        """Rows changed in (after, upto] of the user and of everyone sharing a joined room."""
        rows = await self.db.fetchall(
            f"SELECT {_COLS} FROM presence"
            " WHERE stream_pos > ? AND stream_pos <= ? AND (user_id = ? OR user_id IN ("
            "  SELECT m2.user_id FROM room_memberships m1 JOIN room_memberships m2 ON m1.room_id = m2.room_id"
            "  WHERE m1.user_id = ? AND m1.membership = 'join' AND m2.membership = 'join'))"
            " ORDER BY stream_pos", (after, upto, user_id, user_id))
        return [PresenceRow(*r) for r in rows]

    async def newly_sharing(self, user_id: str, after: int, upto: int) -> list[PresenceRow]:
        """Current rows of the people who came to share a joined room with the user in
        (after, upto]: the members of rooms the user joined then, and those who joined the
        user's rooms then (the user excluded)."""
        # Two indexed halves (the user's rooms by their join position; the others' joins by
        # room_memberships_room_pos) rather than one OR that reads every member of every room.
        rows = await self.db.fetchall(
            f"SELECT {_COLS} FROM presence WHERE user_id != ? AND user_id IN ("
            "  SELECT m2.user_id FROM room_memberships m1 JOIN room_memberships m2 ON m2.room_id = m1.room_id"
            "  WHERE m1.user_id = ? AND m1.membership = 'join' AND m1.stream_pos > ? AND m1.stream_pos <= ?"
            "  AND m2.membership = 'join'"
            "  UNION SELECT m2.user_id FROM room_memberships m1 JOIN room_memberships m2 ON m2.room_id = m1.room_id"
            "  WHERE m1.user_id = ? AND m1.membership = 'join' AND m2.stream_pos > ? AND m2.stream_pos <= ?"
            "  AND m2.membership = 'join')"
            " ORDER BY stream_pos", (user_id, user_id, after, upto, user_id, after, upto))
        return [PresenceRow(*r) for r in rows]

    async def changed_between(self, after: int, upto: int, limit: int = 1000) -> list[PresenceRow]:
        """Everyone's rows changed in (after, upto], in stream order (appservice transactions)."""
        rows = await self.db.fetchall(f"SELECT {_COLS} FROM presence WHERE stream_pos > ? AND stream_pos <= ?"
                                      " ORDER BY stream_pos LIMIT ?", (after, upto, int(limit)))
        return [PresenceRow(*r) for r in rows]

    async def not_offline(self) -> list[PresenceRow]:
        rows = await self.db.fetchall(f"SELECT {_COLS} FROM presence WHERE state != 'offline'")
        return [PresenceRow(*r) for r in rows]

    @staticmethod
    def put_job(conn: sqlite3.Connection, row: PresenceRow, pos: int) -> None:
        conn.execute(
            f"INSERT INTO presence ({_COLS})"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET state = excluded.state,"
            " status_msg = excluded.status_msg, last_active_ts = excluded.last_active_ts,"
            " stream_pos = excluded.stream_pos",
            (row.user_id, row.state, row.status_msg, row.last_active_ts, pos))

    # -- room memberships (who may see whose presence) ----------------------------------------

    async def share_a_room(self, a: str, b: str) -> bool:
        return await self.db.fetchval(
            "SELECT 1 FROM room_memberships m1 JOIN room_memberships m2 ON m1.room_id = m2.room_id"
            " WHERE m1.user_id = ? AND m2.user_id = ? AND m1.membership = 'join' AND m2.membership = 'join'"
            " LIMIT 1", (a, b)) is not None

    async def shares_with_server(self, user_id: str, server_name: str) -> bool:
        """Whether a user of `server_name` is joined to a room `user_id` is joined to."""
        suffix = ":" + server_name
        return await self.db.fetchval(
            "SELECT 1 FROM room_memberships m1 JOIN room_memberships m2 ON m1.room_id = m2.room_id"
            " WHERE m1.user_id = ? AND m1.membership = 'join' AND m2.membership = 'join'"
            " AND substr(m2.user_id, -?) = ? LIMIT 1", (user_id, len(suffix), suffix)) is not None

    async def joined_rooms(self, user_id: str) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT room_id FROM room_memberships WHERE user_id = ? AND membership = 'join'", (user_id,))
        return [r[0] for r in rows]
