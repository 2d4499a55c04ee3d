"""Sending into rooms: messages, state and redactions (room_send.yaml, room_state.yaml,
redaction.yaml), with transaction IDs making a retried request send nothing twice."""
from __future__ import annotations

import asyncio
from typing import Any

from ...protocol import ids
from ...protocol.canonical_json import encode_canonical_json
from ...protocol.errors import BadAlias, BadJson, Forbidden, InvalidParam, MatrixError, NotFound
from ...protocol.events import Pdu
from ...protocol.power_levels import can_redact
from ...storage.stores.events import EventStore
from ...storage.stores.rooms import RoomStore
from ..pipeline import EventPipeline
from .invite_permission import InvitePermission
from .lookup import RoomLookup


def _same_json(a: Any, b: Any) -> bool:
    """Equal as canonical JSON (so 1 and true differ); content without an encoding is never equal."""
    try:
        return encode_canonical_json(a) == encode_canonical_json(b)
    except (TypeError, ValueError):
        return False


class RoomMessages:
    def __init__(self, events: EventStore, pipeline: EventPipeline, store: RoomStore, lookup: RoomLookup,
                 invite_permission: InvitePermission):
        self.events = events
        self.invite_permission = invite_permission
        self.pipeline = pipeline
        self.store = store
        self.lookup = lookup
        self._txn_locks: dict[str, list] = {}  # txn key → [lock, users]

    async def _send_once(self, txn_key: str | None, matches, send) -> str:
        """Run `send(txn_key)` unless an event with this key that `matches` exists already.

        Retransmissions of one transaction wait for each other on a lock that lives as long
        as someone holds or awaits it.
        """
        if txn_key is None:
            return await send(None)
        entry = self._txn_locks.get(txn_key)
        if entry is None:
            entry = self._txn_locks[txn_key] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                existing = await self.events.event_id_for_txn(txn_key)
                if existing is not None:
                    ev = await self.events.get_event(existing)
                    if ev is not None and matches(ev.pdu):
                        return existing
                    # The same ID on another endpoint is a new request; it cannot claim the key.
                    return await send(None)
                return await send(txn_key)
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._txn_locks[txn_key]

    async def send_message(self, room_id: str, sender: str, event_type: str, content: dict[str, Any],
                           txn_id: str | None, device_id: str | None, ts: int | None = None) -> str:
        """PUT /rooms/{roomId}/send/{eventType}/{txnId}; the same transaction gives the same ID.
        `ts`: an appservice's timestamp for the event (application-service-api.md "Timestamp massaging")."""
        version = await self.lookup.version(room_id)
        extra = None
        if event_type == "m.room.redaction":
            redacts = content.get("redacts")
            if not isinstance(redacts, str):
                raise BadJson("m.room.redaction needs content.redacts")
            await self._check_may_redact(room_id, sender, redacts)
            if not version.event_format.redacts_in_content:
                # room_send.yaml: before v11 `redacts` moves to the top level.
                content = {k: v for k, v in content.items() if k != "redacts"}
                extra = {"redacts": redacts}
        if ts is not None:
            extra = {**(extra or {}), "origin_server_ts": ts}
        txn_key = f"{sender}|{device_id}|{txn_id}" if txn_id is not None else None

        def matches(pdu: Pdu) -> bool:
            return pdu.room_id == room_id and pdu.type == event_type and not pdu.is_state

        async def send(key: str | None) -> str:
            await self._check_not_duplicate_annotation(sender, event_type, content)
            p = await self.pipeline.create_event(room_id, sender, event_type, content, txn_key=key, extra=extra)
            return p.pdu.event_id

        return await self._send_once(txn_key, matches, send)

    async def _check_not_duplicate_annotation(self, sender: str, event_type: str, content: dict[str, Any]) -> None:
        """event_annotations.md: a second annotation of an event by the same user with the same
        type and key (the first not redacted) is refused. A retried transaction never gets here:
        it answers the first event's ID."""
        rel = content.get("m.relates_to")
        if not isinstance(rel, dict) or rel.get("rel_type") != "m.annotation":
            return
        target, key = rel.get("event_id"), rel.get("key")
        if isinstance(target, str) and isinstance(key, str) and await self.events.has_annotation(
                target, sender, event_type, key):
            raise MatrixError("You already reacted with this to that event", errcode="M_DUPLICATE_ANNOTATION",
                              status=400)

    async def set_state(self, room_id: str, sender: str, event_type: str, state_key: str,
                        content: dict[str, Any], ts: int | None = None) -> str:
        """PUT /rooms/{roomId}/state/{eventType}/{stateKey}; returns the event ID.

        Setting what is already there (same sender, type, key and content, by someone still in
        the room) sends nothing and answers the current event's ID: clients retry state PUTs and
        expect them to be idempotent."""
        await self.lookup.version(room_id)
        current = await self.lookup.state(room_id, event_type, state_key)
        if (current is not None and current.sender == sender
                and _same_json(current.content, content)
                and await self.events.membership(room_id, sender) == "join"):
            return current.event_id
        if event_type == "m.room.canonical_alias":
            await self._check_canonical_alias(room_id, content)
        if event_type == "m.room.member" and content.get("membership") == "invite" and state_key != sender:
            await self.invite_permission.check(state_key)
        persisted = await self.pipeline.create_event(room_id, sender, event_type, content, state_key=state_key,
                                                     extra={"origin_server_ts": ts} if ts is not None else None)
        return persisted.pdu.event_id

    async def _check_canonical_alias(self, room_id: str, content: dict[str, Any]) -> None:
        """room_state.yaml: new aliases must be valid and point to this room."""
        alias = content.get("alias")
        alt = content.get("alt_aliases", [])
        if alias is not None and not isinstance(alias, str):
            raise InvalidParam("alias must be a string")
        if not isinstance(alt, list) or not all(isinstance(a, str) for a in alt):
            raise InvalidParam("alt_aliases must be a list of strings")
        old = await self.lookup.state(room_id, "m.room.canonical_alias")
        known: set[str] = set()
        if old is not None:
            if isinstance(old.content.get("alias"), str):
                known.add(old.content["alias"])
            if isinstance(old.content.get("alt_aliases"), list):
                known.update(a for a in old.content["alt_aliases"] if isinstance(a, str))
        for a in ([alias] if alias else []) + alt:
            if a in known:
                continue
            if not ids.is_valid_room_alias(a):
                raise InvalidParam(f"Invalid room alias {a!r}")
            mapped = await self.store.get_alias(a)
            if mapped is None or mapped.room_id != room_id:
                raise BadAlias(f"The alias {a!r} does not point to this room.")

    async def redact(self, room_id: str, event_id: str, sender: str, reason: str | None,
                     txn_id: str | None, device_id: str | None) -> str:
        """PUT /rooms/{roomId}/redact/{eventId}/{txnId}."""
        version = await self.lookup.version(room_id)
        await self._check_may_redact(room_id, sender, event_id)
        content: dict[str, Any] = {}
        if reason is not None:
            content["reason"] = reason
        extra = None
        if version.event_format.redacts_in_content:
            content["redacts"] = event_id
        else:
            extra = {"redacts": event_id}
        txn_key = f"{sender}|{device_id}|{txn_id}" if txn_id is not None else None

        def matches(pdu: Pdu) -> bool:
            return pdu.room_id == room_id and pdu.type == "m.room.redaction" and pdu.redacts == event_id

        async def send(key: str | None) -> str:
            p = await self.pipeline.create_event(room_id, sender, "m.room.redaction", content,
                                                 txn_key=key, extra=extra)
            return p.pdu.event_id

        return await self._send_once(txn_key, matches, send)

    async def _check_may_redact(self, room_id: str, sender: str, event_id: str) -> None:
        target = await self.events.get_event(event_id)
        if target is None or target.pdu.room_id != room_id:
            raise NotFound("Event not found")
        pl, create = await self.lookup.power_levels_and_create(room_id)
        if not can_redact(sender, target.pdu.sender, pl, create):
            raise Forbidden("You cannot redact other people's events")
