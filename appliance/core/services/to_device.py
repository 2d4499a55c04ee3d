"""Send-to-device messaging (send_to_device.md).

A message is stored per target device at a stream position and handed out by that device's
/sync until the next sync token acknowledges it. At most `LIMIT` messages go in one response;
when more wait, the delivery is recorded so that its token acknowledges only what was sent.
A retried `PUT /sendToDevice` (same sender device and transaction ID) stores nothing again.
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from typing import Any

from ..protocol.errors import BadJson, InvalidParam
from ..protocol.ids import is_valid_user_id, server_name_of
from ..signals import Event
from ..storage.database import Database
from ..storage.stores.to_device import ToDeviceStore
from ..stream import Stream

log = logging.getLogger(__name__)


class ToDeviceService:
    LIMIT = 100

    def __init__(self, db: Database, store: ToDeviceStore, stream: Stream, server_name: str):
        self.db = db
        self.store = store
        self.stream = stream
        self.server_name = server_name
        # (sender, type, message ID, {server: {user: {device: content}}}): messages for other
        # servers' users; the federation sender sends them (without federation, nobody listens).
        self.remote_messages: Event[[str, str, str, dict[str, dict[str, Any]]]] = Event("remote to-device")

    async def send(self, sender: str, sender_device: str, event_type: str, txn_id: str,
                   messages: Mapping[str, Any]) -> None:
        targets: list[tuple[str, str, dict]] = []
        remote: dict[str, dict[str, Any]] = {}  # server -> {user: {device: content}}
        for user_id, by_device in messages.items():
            if not is_valid_user_id(user_id):
                raise InvalidParam(f"Invalid user ID {user_id!r}")
            if not isinstance(by_device, dict) or not all(isinstance(c, dict) for c in by_device.values()):
                raise BadJson("messages must map user IDs to {device ID: content object}")
            if server_name_of(user_id) != self.server_name:
                remote.setdefault(server_name_of(user_id), {})[user_id] = by_device
                continue
            for device_id, content in by_device.items():
                targets.append((user_id, device_id, {"sender": sender, "type": event_type, "content": content}))

        def job(conn: sqlite3.Connection) -> tuple[int, set[str]] | None:
            if not ToDeviceStore.claim_txn_job(conn, sender, sender_device, txn_id):
                return None
            rows: list[tuple[str, str, dict]] = []
            known: dict[str, list[str]] = {}
            for user_id, device_id, message in targets:
                if user_id not in known:
                    known[user_id] = ToDeviceStore.device_ids_job(conn, user_id)
                devices = known[user_id] if device_id == "*" else [d for d in known[user_id] if d == device_id]
                rows += [(user_id, d, message) for d in devices]
            pos = self.stream.allocate(conn)
            ToDeviceStore.add_messages_job(conn, pos, rows)
            return pos, {u for u, _, _ in rows}

        done = await self.db.write(job)
        if done is not None:
            pos, users = done
            self.stream.advance(pos, users)
            if remote:  # sent once, as the transaction ID was claimed once (federation, if on)
                self.remote_messages.emit(sender, event_type, f"{sender_device}/{txn_id}", remote)

    async def deliver(self, user_id: str, device_id: str, since_pos: int | None, to_pos: int) -> list[dict]:
        """Acknowledge what the sync token `since_pos` covered, then return what is pending."""
        if since_pos is not None:
            last_id = await self.store.delivery_limit(user_id, device_id, since_pos)
            if await self.store.has_acknowledgeable(user_id, device_id, since_pos, last_id):
                await self.store.acknowledge(user_id, device_id, since_pos, last_id)
        rows = await self.store.pending(user_id, device_id, to_pos, self.LIMIT + 1)
        if len(rows) > self.LIMIT:
            rows = rows[:self.LIMIT]
            await self.store.record_limited_delivery(user_id, device_id, to_pos, rows[-1][0])
        return [message for _, message in rows]

    async def has_pending(self, user_id: str, device_id: str) -> bool:
        """Anything waiting for the device (a limited delivery left some): sync need not wait."""
        return await self.store.has_pending(user_id, device_id)
