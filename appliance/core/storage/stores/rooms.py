"""Room aliases, the published room directory and forgotten rooms."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..database import Database


@dataclass(frozen=True, slots=True)
class Alias:
    alias: str
    room_id: str
    creator: str


class AliasTaken(Exception):
    """The alias already maps to a room."""


class RoomStore:
    def __init__(self, db: Database):
        self.db = db

    # -- aliases ----------------------------------------------------------------------------

    async def get_alias(self, alias: str) -> Alias | None:
        row = await self.db.fetchone("SELECT alias, room_id, creator FROM room_aliases WHERE alias = ?", (alias,))
        return Alias(row[0], row[1], row[2]) if row else None

    async def aliases_of(self, room_id: str) -> list[str]:
        rows = await self.db.fetchall("SELECT alias FROM room_aliases WHERE room_id = ? ORDER BY alias", (room_id,))
        return [r[0] for r in rows]

    async def add_alias(self, alias: str, room_id: str, creator: str) -> None:
        """Raises AliasTaken if the alias exists."""
        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute("INSERT INTO room_aliases (alias, room_id, creator) VALUES (?, ?, ?)",
                             (alias, room_id, creator))
            except sqlite3.IntegrityError:
                raise AliasTaken(alias) from None
        await self.db.write(job)

    async def delete_alias(self, alias: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM room_aliases WHERE alias = ?", (alias,)).rowcount > 0
        return await self.db.write(job)

    async def move_aliases(self, old_room_id: str, new_room_id: str) -> None:
        await self.db.write(lambda c: c.execute(
            "UPDATE room_aliases SET room_id = ? WHERE room_id = ?", (new_room_id, old_room_id)))

    # -- published room directory -----------------------------------------------------------

    async def is_public(self, room_id: str) -> bool | None:
        """Whether the room is published; None if the room is unknown."""
        val = await self.db.fetchval("SELECT is_public FROM rooms WHERE room_id = ?", (room_id,))
        return None if val is None else bool(val)

    async def set_public(self, room_id: str, public: bool) -> None:
        await self.db.write(lambda c: c.execute(
            "UPDATE rooms SET is_public = ? WHERE room_id = ?", (int(public), room_id)))

    async def public_room_ids(self) -> list[tuple[str, int]]:
        """Published rooms with their joined member counts, largest first, then by room ID."""
        rows = await self.db.fetchall(
            "SELECT r.room_id, (SELECT COUNT(*) FROM current_state cs WHERE cs.room_id = r.room_id"
            " AND cs.type = 'm.room.member' AND cs.membership = 'join') AS n"
            " FROM rooms r WHERE r.is_public = 1 ORDER BY n DESC, r.room_id")
        return [(r[0], r[1]) for r in rows]

    # -- memberships ------------------------------------------------------------------------

    async def membership_record(self, user_id: str, room_id: str) -> tuple[str, bool] | None:
        """(membership, forgotten) from room_memberships, or None if the user never had one."""
        row = await self.db.fetchone(
            "SELECT membership, forgotten FROM room_memberships WHERE user_id = ? AND room_id = ?",
            (user_id, room_id))
        return (row[0], bool(row[1])) if row else None

    async def memberships_of(self, user_id: str) -> list[tuple[str, str, int]]:
        """(room_id, membership, stream_pos) of every room the user has a membership in, by room ID."""
        rows = await self.db.fetchall(
            "SELECT room_id, membership, stream_pos FROM room_memberships WHERE user_id = ? ORDER BY room_id",
            (user_id,))
        return [(r[0], r[1], r[2]) for r in rows]

    async def forget(self, user_id: str, room_id: str) -> None:
        await self.db.write(lambda c: c.execute(
            "UPDATE room_memberships SET forgotten = 1 WHERE user_id = ? AND room_id = ?", (user_id, room_id)))
