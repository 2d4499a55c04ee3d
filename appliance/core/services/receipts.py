"""Receipts and read markers (modules/receipts, modules/read_markers).

`m.read` and `m.read.private` are rows in `receipts` (the private one is shown only to its
owner); `m.fully_read` is the room's account data of that type. Each change takes a stream
position and wakes the room (public receipts) or only the user (private ones).
"""
from __future__ import annotations

import sqlite3
import time
from typing import Any

from ..protocol.errors import Forbidden, InvalidParam, NotFound
from ..storage.database import Database
from ..storage.stores.events import EventStore
from ..storage.stores.receipts import Receipt, ReceiptStore
from ..stream import Stream
from .account_data import AccountDataService

READ = "m.read"
READ_PRIVATE = "m.read.private"
FULLY_READ = "m.fully_read"
RECEIPT_TYPES = (READ, READ_PRIVATE, FULLY_READ)
THREAD_HOPS = 3  # "a maximum of 3 hops is recommended"


class ReceiptService:
    def __init__(self, db: Database, store: ReceiptStore, events: EventStore, stream: Stream,
                 account_data: AccountDataService):
        self.db = db
        self.store = store
        self.events = events
        self.stream = stream
        self.account_data = account_data

    async def _check(self, user_id: str, room_id: str, event_id: str) -> None:
        if await self.events.membership(room_id, user_id) != "join":
            raise Forbidden("You are not in this room")
        ev = await self.events.get_event(event_id)
        if ev is None or ev.pdu.room_id != room_id:
            raise NotFound("Unknown event")

    async def post_receipt(self, user_id: str, room_id: str, receipt_type: str, event_id: str,
                           thread_id: Any = None) -> None:
        if receipt_type not in RECEIPT_TYPES:
            raise InvalidParam(f"Unknown receipt type {receipt_type}")
        if thread_id is not None and (not isinstance(thread_id, str) or not thread_id):
            raise InvalidParam("thread_id field must be a non-empty string")
        if receipt_type == FULLY_READ and thread_id is not None:
            raise InvalidParam("thread_id cannot be given for m.fully_read")
        await self._check(user_id, room_id, event_id)
        if thread_id is not None and thread_id != "main":
            ev = await self.events.get_event(event_id)
            if ev is not None and ev.event_id != thread_id and await self._thread_of(ev.pdu.content) != thread_id:
                raise InvalidParam("The event is not related to the thread")
        if receipt_type == FULLY_READ:
            await self.account_data.set(user_id, FULLY_READ, {"event_id": event_id}, room_id)
            return
        await self._put(user_id, room_id, receipt_type, event_id, thread_id or "")

    async def _thread_of(self, content: dict[str, Any]) -> str | None:
        """The thread root an event is in (receipts.md "Threaded read receipts"): its own
        m.thread relation, or its parent's, following relations at most THREAD_HOPS times (a
        reaction to a reply in a thread is in the thread)."""
        for _ in range(THREAD_HOPS):
            root = _thread_of(content)
            if root is not None:
                return root
            rel = content.get("m.relates_to")
            if not isinstance(rel, dict) or not isinstance(rel.get("event_id"), str):
                return None
            parent = await self.events.get_event(rel["event_id"])
            if parent is None:
                return None
            content = parent.pdu.content
        return None

    async def set_read_markers(self, user_id: str, room_id: str, body: dict[str, Any]) -> None:
        """POST /read_markers: any of m.fully_read, m.read, m.read.private."""
        for key in (FULLY_READ, READ, READ_PRIVATE):
            eid = body.get(key)
            if eid is None:
                continue
            if not isinstance(eid, str):
                raise InvalidParam(f"{key} must be an event ID")
            await self.post_receipt(user_id, room_id, key, eid)

    async def _put(self, user_id: str, room_id: str, receipt_type: str, event_id: str, thread_id: str) -> None:
        target = await self.events.get_event(event_id)
        old = await self.store.get(room_id, receipt_type, user_id, thread_id)
        if old is not None and target is not None:
            old_ev = await self.events.get_event(old.event_id)
            if old_ev is not None and old_ev.stream_pos >= target.stream_pos:
                return  # receipts only move forward
        ts = int(time.time() * 1000)

        def job(conn: sqlite3.Connection) -> int:
            pos = self.stream.allocate(conn)
            self.store.put_job(conn, Receipt(room_id, receipt_type, user_id, thread_id, event_id, ts, pos))
            return pos

        pos = await self.db.write(job)
        self.stream.advance(pos, [user_id] if receipt_type == READ_PRIVATE else [room_id, user_id])

    async def changed(self, room_ids: list[str], after: int, upto: int) -> list[Receipt]:
        return await self.store.changed(room_ids, after, upto)

    async def read_up_to(self, user_id: str, room_id: str) -> int:
        """Stream position of the newest event the user has marked read (public or private)."""
        best = 0
        for rtype in (READ, READ_PRIVATE):
            for thread in ("", "main"):
                r = await self.store.get(room_id, rtype, user_id, thread)
                if r is not None:
                    ev = await self.events.get_event(r.event_id)
                    if ev is not None:
                        best = max(best, ev.stream_pos)
        return best


def receipt_content(receipts: list[Receipt], viewer: str) -> dict[str, Any]:
    """The m.receipt EDU content for one room, as `viewer` may see it."""
    content: dict[str, Any] = {}
    for r in receipts:
        if r.receipt_type == READ_PRIVATE and r.user_id != viewer:
            continue
        entry: dict[str, Any] = {"ts": r.ts}
        if r.thread_id:
            entry["thread_id"] = r.thread_id
        by_user = content.setdefault(r.event_id, {}).setdefault(r.receipt_type, {})
        if r.thread_id and r.user_id in by_user and "thread_id" not in by_user[r.user_id]:
            continue  # one entry per user and event: an unthreaded receipt wins (MSC4102)
        by_user[r.user_id] = entry
    return content


def _thread_of(content: dict[str, Any]) -> str | None:
    rel = content.get("m.relates_to")
    if isinstance(rel, dict) and rel.get("rel_type") == "m.thread" and isinstance(rel.get("event_id"), str):
        return rel["event_id"]
    return None
