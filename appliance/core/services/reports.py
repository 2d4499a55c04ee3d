"""Reporting content (modules/report_content, report_content.yaml): events, rooms and users.

Reports are stored for the server's admin (`list_reports`, `get_report`, `delete_report` serve
the admin pages). As the spec says: an event report needs the reporter to be joined to the
room and to be able to see the event; a room or user report needs neither, only that the room
or user exists (M_NOT_FOUND otherwise).
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from ..protocol import ids
from ..protocol.errors import InvalidParam, NotFound
from ..storage.database import Database
from ..storage.stores.accounts import AccountStore
from ..storage.stores.events import EventStore
from .room_read import RoomReadService

MAX_REASON_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    kind: str                  # event, room, user
    reporter: str
    room_id: str | None
    event_id: str | None
    target_user_id: str | None
    reason: str | None
    score: int | None
    received_ts: int

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}


_COLUMNS = "id, kind, reporter, room_id, event_id, target_user_id, reason, score, received_ts"


class ReportService:
    def __init__(self, db: Database, events: EventStore, accounts: AccountStore, reader: RoomReadService):
        self.db = db
        self.events = events
        self.accounts = accounts
        self.reader = reader

    async def _store(self, kind: str, reporter: str, *, room_id: str | None = None, event_id: str | None = None,
                     target: str | None = None, reason: str | None = None, score: int | None = None) -> int:
        if reason is not None and len(reason) > MAX_REASON_CHARS:
            raise InvalidParam("reason is too long")

        def job(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO reports (kind, reporter, room_id, event_id, target_user_id, reason, score, received_ts)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, reporter, room_id, event_id, target, reason, score, int(time.time() * 1000)))
            return int(cur.lastrowid)

        return await self.db.write(job)

    async def report_event(self, reporter: str, room_id: str, event_id: str, reason: str | None,
                           score: int | None = None) -> int:
        """POST /rooms/{roomId}/report/{eventId}: only from a member who can see the event."""
        missing = NotFound("The event was not found or you are not joined to the room.")
        if await self.events.membership(room_id, reporter) != "join":
            raise missing
        ev = await self.events.get_event(event_id)
        if ev is None or ev.pdu.room_id != room_id or ev.rejected or ev.redacted_by:
            raise missing
        if not await self.reader.visibility.can_see_event(reporter, ev):
            raise missing
        return await self._store("event", reporter, room_id=room_id, event_id=event_id, target=ev.pdu.sender,
                                 reason=reason, score=score)

    async def report_room(self, reporter: str, room_id: str, reason: str | None) -> int:
        """POST /rooms/{roomId}/report: the reporter need not be in the room."""
        if await self.events.room_version(room_id) is None:
            raise NotFound("The room was not found.")
        return await self._store("room", reporter, room_id=room_id, reason=reason)

    async def report_user(self, reporter: str, user_id: str, reason: str | None) -> int:
        """POST /users/{userId}/report: a local account, or a remote user seen in a room here."""
        try:
            ids.parse_user_id(user_id)
        except ValueError:
            raise InvalidParam("Not a user ID") from None
        known = await self.accounts.user_exists(user_id) or await self.db.fetchval(
            "SELECT 1 FROM room_memberships WHERE user_id = ? LIMIT 1", (user_id,)) is not None
        if not known:
            raise NotFound("The user was not found.")
        return await self._store("user", reporter, target=user_id, reason=reason)

    # -- for the admin ----------------------------------------------------------------------

    async def list_reports(self, *, limit: int = 100, before_id: int | None = None) -> list[Report]:
        """Newest first; `before_id` pages on."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM reports WHERE id < ? ORDER BY id DESC LIMIT ?",
            (before_id if before_id is not None else 2**62, max(1, min(limit, 1000))))
        return [Report(*r) for r in rows]

    async def count_reports(self) -> int:
        return await self.db.fetchval("SELECT COUNT(*) FROM reports") or 0

    async def get_report(self, report_id: int) -> Report | None:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM reports WHERE id = ?", (report_id,))
        return Report(*row) if row else None

    async def delete_report(self, report_id: int) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM reports WHERE id = ?", (report_id,)).rowcount > 0

        return await self.db.write(job)
