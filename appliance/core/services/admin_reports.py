"""Event reports for admins (Synapse docs/admin_api/event_reports.md): list with filters and
paging, look at one with the reported event, dismiss one.

Reports are written by the reports service (POST /rooms/{roomId}/report/{eventId}) into the
`reports` table; this reads the event reports among them. Shared by the admin API and the
admin web pages' content reports page.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..protocol.errors import InvalidParam, NotFound
from ..storage.stores.admin import EventReportRow, EventReportStore
from ..storage.stores.events import EventStore

DEFAULT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class EventReport:
    id: int
    received_ts: int
    room_id: str
    name: str | None
    canonical_alias: str | None
    event_id: str
    user_id: str  # who reported it
    reason: str | None
    score: int | None
    sender: str | None  # who sent the reported event

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "received_ts": self.received_ts, "room_id": self.room_id, "name": self.name,
                "canonical_alias": self.canonical_alias, "event_id": self.event_id, "user_id": self.user_id,
                "reason": self.reason, "score": self.score, "sender": self.sender}


@dataclass(frozen=True, slots=True)
class EventReportPage:
    event_reports: list[EventReport]
    total: int
    next_token: int | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event_reports": [r.to_json() for r in self.event_reports], "total": self.total}
        if self.next_token is not None:
            out["next_token"] = self.next_token
        return out


class AdminReportService:
    def __init__(self, events: EventStore, store: EventReportStore):
        self.events = events
        self.store = store

    async def _room_label(self, room_id: str) -> tuple[str | None, str | None]:
        name = await self.events.current_state_event(room_id, "m.room.name")
        alias = await self.events.current_state_event(room_id, "m.room.canonical_alias")

        def text(pdu, key: str) -> str | None:
            value = pdu.content.get(key) if pdu is not None else None
            return value if isinstance(value, str) and value else None

        return text(name, "name"), text(alias, "alias")

    async def _report(self, row: EventReportRow) -> EventReport:
        name, alias = await self._room_label(row.room_id)
        return EventReport(row.id, row.received_ts, row.room_id, name, alias, row.event_id, row.user_id,
                           row.reason, row.score, row.sender)

    async def list_event_reports(self, *, offset: int = 0, limit: int = DEFAULT_LIMIT, backwards: bool = True,
                                 user_id: str | None = None, room_id: str | None = None,
                                 event_sender_user_id: str | None = None) -> EventReportPage:
        """Newest first unless `backwards` is False (the API's dir=f)."""
        if offset < 0 or limit < 0:
            raise InvalidParam("from and limit must not be negative")
        rows, total = await self.store.list(offset=offset, limit=limit, backwards=backwards, user_id=user_id,
                                            room_id=room_id, sender=event_sender_user_id)
        reports = [await self._report(r) for r in rows]
        more = offset + len(rows) < total and rows
        return EventReportPage(reports, total, offset + len(rows) if more else None)

    async def get_event_report(self, report_id: int) -> tuple[EventReport, dict[str, Any] | None]:
        """The report and the reported event as stored (None if it has been purged)."""
        row = await self.store.get(report_id)
        if row is None:
            raise NotFound("Event report not found")
        ev = await self.events.get_event(row.event_id)
        return await self._report(row), (dict(ev.pdu.data) if ev is not None else None)

    async def delete_event_report(self, report_id: int) -> None:
        if not await self.store.delete(report_id):
            raise NotFound("Event report not found")
