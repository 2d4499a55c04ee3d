"""Reporting content (modules/report_content, report_content.yaml): events, rooms and users.

Reports are stored for the server's admin (`list_reports`, `get_report`, `delete_report` serve
the admin pages). As the spec says: an event report needs the reporter to be joined to the
room and to be able to see the event; a room or user report needs neither, only that the room
or user exists (M_NOT_FOUND otherwise).
"""
from __future__ import annotations

import time

from ..protocol import ids
from ..protocol.errors import InvalidParam, NotFound
from ..storage.stores.accounts import AccountStore
from ..storage.stores.events import EventStore
from ..storage.stores.reports import Report, ReportStore
from .room_read import RoomReadService

MAX_REASON_CHARS = 4096


class ReportService:
    def __init__(self, store: ReportStore, events: EventStore, accounts: AccountStore, reader: RoomReadService):
        self.store = store
        self.events = events
        self.accounts = accounts
        self.reader = reader

    async def _store(self, kind: str, reporter: str, *, room_id: str | None = None, event_id: str | None = None,
                     target: str | None = None, reason: str | None = None, score: int | None = None) -> int:
        if reason is not None and len(reason) > MAX_REASON_CHARS:
            raise InvalidParam("reason is too long")
        return await self.store.add(kind, reporter, room_id, event_id, target, reason, score,
                                    int(time.time() * 1000))

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
        known = await self.accounts.user_exists(user_id) or await self.store.user_seen_in_a_room(user_id)
        if not known:
            raise NotFound("The user was not found.")
        return await self._store("user", reporter, target=user_id, reason=reason)

    # -- for the admin ----------------------------------------------------------------------

    async def list_reports(self, *, limit: int = 100, before_id: int | None = None) -> list[Report]:
        """Newest first; `before_id` pages on."""
        return await self.store.newest(max(1, min(limit, 1000)), before_id if before_id is not None else 2**62)

    async def count_reports(self) -> int:
        return await self.store.count()

    async def get_report(self, report_id: int) -> Report | None:
        return await self.store.get(report_id)

    async def delete_report(self, report_id: int) -> bool:
        return await self.store.delete(report_id)
