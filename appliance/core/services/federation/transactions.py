"""Inbound transactions (`PUT /_matrix/federation/v1/send/{txnId}`, server-server-api.md
"Transactions", "EDUs"): up to 50 PDUs, each checked and kept or refused on its own (the
answer's `pdus` map says which failed), and up to 100 EDUs, applied where they make sense and
ignored otherwise (an EDU has no answer).

EDUs: `m.typing` and `m.receipt` from the origin's own users who are joined to the room;
`m.direct_to_device` to our users' devices; `m.device_list_update` and
`m.signing_key_update` mark the remote user's keys as changed for our users who share a room
with them (their clients query them again); `m.presence` for the origin's users who share a room
with ours, only while the admin shares presence with other servers (off by default: a home keeps
presence local).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ...protocol import ids
from ...protocol.errors import BadJson
from ...protocol.federation_peers import server_acl_allows
from ...storage.stores.events import EventStore
from ..device_keys import DeviceKeyService
from ..presence import PresenceService
from ..receipts import ReceiptService
from ..to_device import ToDeviceService
from ..typing import TypingService
from .receiving import PduReceiver

log = logging.getLogger(__name__)

MAX_PDUS = 50
MAX_EDUS = 100
MAX_PRESENCE_PUSH = 100


class TransactionReceiver:
    def __init__(self, server_name: str, events: EventStore, receiver: PduReceiver, typing: TypingService,
                 receipts: ReceiptService, to_device: ToDeviceService, device_keys: DeviceKeyService, *,
                 presence: PresenceService | None = None, share_presence: Callable[[], bool] = lambda: False) -> None:
        self.server_name = server_name
        self.presence = presence
        self.share_presence = share_presence
        self.events = events
        self.receiver = receiver
        self.typing = typing
        self.receipts = receipts
        self.to_device = to_device
        self.device_keys = device_keys
        # One transaction per origin at a time (the spec: a sender waits for the answer, and
        # a retried one must not be processed twice side by side).
        self._locks: dict[str, asyncio.Lock] = {}

    async def receive(self, origin: str, txn_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadJson("A transaction is a JSON object")
        pdus, edus = body.get("pdus", []), body.get("edus", [])
        if not isinstance(pdus, list) or not isinstance(edus, list):
            raise BadJson("pdus and edus must be arrays")
        if len(pdus) > MAX_PDUS or len(edus) > MAX_EDUS:
            raise BadJson(f"A transaction holds at most {MAX_PDUS} PDUs and {MAX_EDUS} EDUs")
        if body.get("origin") not in (None, origin):
            raise BadJson("The transaction's origin is not the server that signed the request")
        lock = self._locks.setdefault(origin, asyncio.Lock())
        results: dict[str, Any] = {}
        async with lock:
            for raw in pdus:
                got = await self.receiver.receive(origin, raw)
                if got.event_id:
                    results[got.event_id] = {"error": got.error} if got.error else {}
            for edu in edus:
                try:
                    await self._edu(origin, edu)
                except Exception:  # one bad EDU spoils nothing else
                    log.exception("EDU from %s failed", origin)
        return {"pdus": results}

    def _from_origin(self, origin: str, user_id: Any) -> bool:
        try:
            return isinstance(user_id, str) and ids.is_valid_user_id(user_id) and ids.server_name_of(user_id) == origin
        except ValueError:
            return False

    async def _edu(self, origin: str, edu: Any) -> None:
        if not isinstance(edu, dict) or not isinstance(edu.get("content"), dict):
            return
        kind, content = edu.get("edu_type"), edu["content"]
        handler: Callable[[str, dict], Awaitable[None]] | None = {
            "m.typing": self._typing,
            "m.receipt": self._receipt,
            "m.direct_to_device": self._to_device,
            "m.device_list_update": self._device_list,
            "m.signing_key_update": self._signing_keys,
            "m.presence": self._presence,
        }.get(kind)  # type: ignore[arg-type]
        if handler is not None:
            await handler(origin, content)

    async def _acl_allows(self, origin: str, room_id: str) -> bool:
        acl = await self.events.current_state_event(room_id, "m.room.server_acl")
        return server_acl_allows(acl.content if acl is not None else None, origin)

    async def _presence(self, origin: str, content: dict) -> None:
        """Taken only while the admin shares presence with other servers (off by default), and
        only for the origin's users who share a room with one of ours."""
        if self.presence is None or not self.share_presence():
            return
        push = content.get("push")
        for item in push[:MAX_PRESENCE_PUSH] if isinstance(push, list) else []:
            user_id = item.get("user_id") if isinstance(item, dict) else None
            if not self._from_origin(origin, user_id) or not await self.presence.shares_with_local(user_id):
                continue
            await self.presence.receive_remote(user_id, item)

    async def _typing(self, origin: str, content: dict) -> None:
        room_id, user_id = content.get("room_id"), content.get("user_id")
        if not isinstance(room_id, str) or not self._from_origin(origin, user_id):
            return
        if not await self._acl_allows(origin, room_id):
            return
        if await self.events.membership(room_id, user_id) != "join":
            return
        self.typing.set_typing(room_id, user_id, content.get("typing") is True, 30_000)

    async def _receipt(self, origin: str, content: dict) -> None:
        for room_id, by_type in content.items():
            if not isinstance(by_type, dict) or not await self._acl_allows(origin, room_id):
                continue
            for receipt_type, by_user in by_type.items():
                if receipt_type != "m.read" or not isinstance(by_user, dict):
                    continue  # private receipts never travel
                for user_id, receipt in by_user.items():
                    if not self._from_origin(origin, user_id) or not isinstance(receipt, dict):
                        continue
                    event_ids = receipt.get("event_ids")
                    data = receipt.get("data") if isinstance(receipt.get("data"), dict) else {}
                    if not isinstance(event_ids, list) or not event_ids or not isinstance(event_ids[0], str):
                        continue
                    thread = data.get("thread_id") if isinstance(data.get("thread_id"), str) else None
                    try:
                        await self.receipts.post_receipt(user_id, room_id, "m.read", event_ids[0], thread)
                    except Exception as e:  # not joined, unknown event: dropped
                        log.info("receipt from %s dropped: %s", origin, e)

    async def _to_device(self, origin: str, content: dict) -> None:
        sender, kind, message_id = content.get("sender"), content.get("type"), content.get("message_id")
        messages = content.get("messages")
        if not self._from_origin(origin, sender) or not isinstance(kind, str) or not isinstance(messages, dict):
            return
        local = {u: m for u, m in messages.items()
                 if isinstance(u, str) and ids.is_valid_user_id(u) and ids.server_name_of(u) == self.server_name
                 and isinstance(m, dict) and all(isinstance(c, dict) for c in m.values())}
        if local:
            # The message ID is the idempotency key of a remote sender (as a txn ID is a device's).
            await self.to_device.send(sender, f"federation:{origin}", kind, str(message_id), local)

    async def _device_list(self, origin: str, content: dict) -> None:
        user_id, device_id = content.get("user_id"), content.get("device_id")
        if self._from_origin(origin, user_id) and isinstance(device_id, str):
            await self.device_keys.record_device_change(user_id, device_id)

    async def _signing_keys(self, origin: str, content: dict) -> None:
        user_id = content.get("user_id")
        if self._from_origin(origin, user_id):
            await self.device_keys.record_device_change(user_id, "")
