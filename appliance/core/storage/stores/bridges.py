"""The bridge host's own tables (migration 0200): portals and management rooms of each bridge."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..database import Database
from .accounts import now_ms


@dataclass(frozen=True, slots=True)
class PortalRow:
    key: str
    room_id: str
    plumbed: bool


class BridgeStore:
    def __init__(self, db: Database):
        self.db = db

    # -- portals ----------------------------------------------------------------------------

    async def portal(self, bridge: str, key: str) -> PortalRow | None:
        row = await self.db.fetchone("SELECT key, room_id, plumbed FROM bridge_portals WHERE bridge = ? AND key = ?",
                                     (bridge, key))
        return PortalRow(row[0], row[1], bool(row[2])) if row else None

    async def portal_by_room(self, bridge: str, room_id: str) -> PortalRow | None:
        row = await self.db.fetchone(
            "SELECT key, room_id, plumbed FROM bridge_portals WHERE bridge = ? AND room_id = ?", (bridge, room_id))
        return PortalRow(row[0], row[1], bool(row[2])) if row else None

    async def portals(self, bridge: str) -> list[PortalRow]:
        rows = await self.db.fetchall(
            "SELECT key, room_id, plumbed FROM bridge_portals WHERE bridge = ? ORDER BY key", (bridge,))
        return [PortalRow(r[0], r[1], bool(r[2])) for r in rows]

    async def add_portal(self, bridge: str, key: str, room_id: str, plumbed: bool) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR REPLACE INTO bridge_portals (bridge, key, room_id, plumbed, created_ts) "
                         "VALUES (?, ?, ?, ?, ?)", (bridge, key, room_id, int(plumbed), now_ms()))
        await self.db.write(job)

    async def remove_portal(self, bridge: str, key: str) -> None:
        await self.db.write(lambda conn: conn.execute(
            "DELETE FROM bridge_portals WHERE bridge = ? AND key = ?", (bridge, key)))

    async def room_ids(self, bridge: str) -> tuple[dict[str, str], dict[str, str]]:
        """(portal room → key, management room → person) of a bridge: the rooms it takes part in."""
        portals = await self.db.fetchall("SELECT room_id, key FROM bridge_portals WHERE bridge = ?", (bridge,))
        managed = await self.db.fetchall(
            "SELECT room_id, user_id FROM bridge_management_rooms WHERE bridge = ?", (bridge,))
        return {r[0]: r[1] for r in portals}, {r[0]: r[1] for r in managed}

    # -- management rooms -------------------------------------------------------------------

    async def management_room(self, bridge: str, user_id: str) -> str | None:
        return await self.db.fetchval(
            "SELECT room_id FROM bridge_management_rooms WHERE bridge = ? AND user_id = ?", (bridge, user_id))

    async def set_management_room(self, bridge: str, user_id: str, room_id: str) -> None:
        await self.db.write(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO bridge_management_rooms (bridge, user_id, room_id) VALUES (?, ?, ?)",
            (bridge, user_id, room_id)))
