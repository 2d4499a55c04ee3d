"""Serve stored PDUs to clients as ClientEvent (client-server-api "Room Events", "Redactions").

`unsigned` is built here and only here: `age`, `transaction_id` for the device that sent the
event, `prev_content`/`replaces_state` for state events, `redacted_because` for redacted ones,
`m.relations` (threads, the latest edit, references) bundled from the relations index, and
`membership` (spec v1.11, MSC4115): the requesting user's membership in the state after the
event, `leave` when they had none, for every event served to a client on someone's behalf.
"""
from __future__ import annotations

import time
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

from ..cache import LruCache
from ..protocol.redaction import redact
from ..storage.stores.events import EventStore, StoredEvent
from ..storage.stores.state import StateStore
from .filtering import apply_event_fields

_CLIENT_KEYS = ("event_id", "type", "content", "sender", "origin_server_ts", "room_id", "state_key")


class ClientEventFormatter:
    # Latest edit of an event (or None: not edited), ~250 bytes an entry: ~1 MB when full.
    REPLACES_CACHE = 4096
    # Client forms kept (without room_id and unsigned, which vary by request). An entry is a
    # small dict sharing the PDU's content, ~0.5 KB: ~1 MB, the timelines and state of an
    # initial /sync of ~100 rooms.
    FORMS_CACHE = 2048

    def __init__(self, events: EventStore, state: StateStore):
        self.events = events
        self.state = state
        self._replaces: OrderedDict[str, str | None] = OrderedDict()
        # event_id -> (redacted_by, form): a redaction changes redacted_by, so the stale form
        # of a redacted event is never served (no separate invalidation needed).
        self._forms: LruCache[str, tuple[str | None, dict[str, Any]]] = LruCache(self.FORMS_CACHE)

    # -- public -----------------------------------------------------------------------------

    async def serialize(self, evs: Sequence[StoredEvent], *, user_id: str | None = None,
                        device_id: str | None = None, with_room_id: bool = True, event_format: str = "client",
                        event_fields: tuple[str, ...] | None = None, bundle: bool = True) -> list[dict[str, Any]]:
        if not evs:
            return []
        now = int(time.time() * 1000)
        if event_format == "federation":
            out = []
            for ev in evs:
                data = dict(redact(ev.pdu.data, ev.pdu.room_version) if ev.redacted_by else ev.pdu.data)
                data["unsigned"] = {"age": max(0, now - ev.pdu.origin_server_ts)}
                out.append(apply_event_fields(data, event_fields))
            return out
        redactions = await self._redactions(evs)
        replaced = await self._replaced_states(ev for ev in evs if ev.pdu.is_state)
        relations = await self._relations(evs, user_id, device_id) if bundle else {}
        memberships = await self._memberships(evs, user_id) if user_id else {}
        out = []
        base = self._base
        prefix = self._txn_prefix(user_id, device_id)
        for ev in evs:
            d = base(ev, now, prefix, with_room_id)
            membership = memberships.get(ev.event_id)
            if membership is not None:
                d["unsigned"]["membership"] = membership
            redacted_by = ev.redacted_by
            if redacted_by or relations or "state_key" in d:  # most messages have none of these
                unsigned = d["unsigned"]
                if redacted_by and redacted_by in redactions:
                    red = redactions[redacted_by]
                    unsigned["redacted_because"] = base(red, now, prefix, True)
                if "state_key" in d:
                    prev = replaced.get(ev.event_id)
                    if prev is not None:
                        unsigned["replaces_state"] = prev.event_id
                        prev_data = redact(prev.pdu.data, prev.pdu.room_version) if prev.redacted_by else prev.pdu.data
                        unsigned["prev_content"] = prev_data.get("content", {})
                        unsigned["prev_sender"] = prev.pdu.sender
                if ev.event_id in relations and not redacted_by:
                    unsigned["m.relations"] = relations[ev.event_id]
            out.append(d if event_fields is None else apply_event_fields(d, event_fields))
        return out

    async def serialize_one(self, ev: StoredEvent, **kw: Any) -> dict[str, Any]:
        return (await self.serialize([ev], **kw))[0]

    async def replaced_state_id(self, ev: StoredEvent) -> str | None:
        """The event a state event replaced (the state at its key before it), if any."""
        return (await self._replaced_state_ids([ev])).get(ev.event_id)

    # -- pieces -----------------------------------------------------------------------------

    def _form(self, ev: StoredEvent) -> dict[str, Any]:
        """The parts of the client form that are the same for every reader (do not mutate)."""
        hit = self._forms.get(ev.event_id)
        if hit is not None and hit[0] == ev.redacted_by:
            return hit[1]
        data = redact(ev.pdu.data, ev.pdu.room_version) if ev.redacted_by else ev.pdu.data
        d: dict[str, Any] = {
            "event_id": ev.event_id,
            "type": ev.pdu.type,
            "content": data.get("content", {}),
            "sender": ev.pdu.sender,
            "origin_server_ts": ev.pdu.origin_server_ts,
        }
        if ev.pdu.is_state:
            d["state_key"] = ev.pdu.state_key
        redacts = ev.pdu.redacts
        if redacts is not None:
            d["redacts"] = redacts  # top level before v11; clients read either place
        self._forms.put(ev.event_id, (ev.redacted_by, d))
        return d

    @staticmethod
    def _txn_prefix(user_id: str | None, device_id: str | None) -> str | None:
        """How the txn_key ("user|device|txn") of this device's own sends begins, if it can have any."""
        if not user_id or not device_id or "|" in user_id or "|" in device_id:
            return None
        return f"{user_id}|{device_id}|"

    def _base(self, ev: StoredEvent, now: int, txn_prefix: str | None, with_room_id: bool) -> dict[str, Any]:
        form = self._form(ev)
        age = now - form["origin_server_ts"]
        unsigned: dict[str, Any] = {"age": age if age > 0 else 0}
        key = ev.txn_key
        if key is not None and txn_prefix is not None and key.startswith(txn_prefix):
            unsigned["transaction_id"] = key[len(txn_prefix):]
        d = {**form, "unsigned": unsigned}
        if with_room_id:
            d["room_id"] = ev.pdu.room_id
        return d

    async def _memberships(self, evs: Sequence[StoredEvent], user_id: str) -> dict[str, str]:
        """event ID → `user_id`'s membership at the event, "including any changes caused by the
        event": that of the user's latest membership event at or before it in stream order
        (`leave` when there is none). One query for all the rooms, however many state groups
        the events span (the `state` of an initial /sync has one per member event). Stream
        order is the room's order for events this server persisted in turn; outliers get none."""
        live = [ev for ev in evs if ev.state_group is not None]
        if not live:
            return {}
        history = await self.events.membership_history(user_id, {ev.pdu.room_id for ev in live})
        out: dict[str, str] = {}
        for ev in live:
            changes = history.get(ev.pdu.room_id, ())
            i = bisect_right(changes, (ev.stream_pos, "\uffff")) - 1
            out[ev.event_id] = changes[i][1] if i >= 0 and changes[i][1] else "leave"
        return out

    async def _redactions(self, evs: Iterable[StoredEvent]) -> dict[str, StoredEvent]:
        ids = {ev.redacted_by for ev in evs if ev.redacted_by}
        return await self.events.get_events(ids) if ids else {}

    async def _replaced_state_ids(self, evs: Iterable[StoredEvent]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for ev in evs:
            if ev.event_id in self._replaces:
                self._replaces.move_to_end(ev.event_id)
                out[ev.event_id] = self._replaces[ev.event_id]
                continue
            found: str | None = None
            prevs = await self.events.get_events(ev.pdu.prev_event_ids)
            for pid in ev.pdu.prev_event_ids:
                prev = prevs.get(pid)
                if prev is not None and prev.state_group is not None:
                    found = (await self.state.get_state(prev.state_group)).get(ev.pdu.state_tuple)
                    break
            if found == ev.event_id:
                found = None
            self._replaces[ev.event_id] = found
            while len(self._replaces) > self.REPLACES_CACHE:
                self._replaces.popitem(last=False)
            out[ev.event_id] = found
        return out

    async def _replaced_states(self, evs: Iterable[StoredEvent]) -> dict[str, StoredEvent]:
        ids = await self._replaced_state_ids(list(evs))
        loaded = await self.events.get_events([x for x in ids.values() if x])
        return {eid: loaded[p] for eid, p in ids.items() if p and p in loaded}

    async def _relations(self, evs: Sequence[StoredEvent], user_id: str | None,
                         device_id: str | None) -> dict[str, dict[str, Any]]:
        """Aggregations for m.thread, m.replace and m.reference (modules/threading, event_replacements)."""
        ids = [ev.event_id for ev in evs if not ev.pdu.is_state]
        if not ids:
            return {}
        rows = await self.events.aggregated_relations(ids)
        if not rows:
            return {}
        by_id = {ev.event_id: ev for ev in evs}
        threads: dict[str, list] = {}
        edits: dict[str, str] = {}
        refs: dict[str, list[str]] = {}
        for parent, rel_type, eid, sender, type_, _pos in rows:
            original = by_id[parent]
            if rel_type == "m.thread":
                threads.setdefault(parent, []).append((eid, sender))
            elif rel_type == "m.replace":
                if sender == original.pdu.sender and type_ == original.pdu.type:
                    edits[parent] = eid  # rows are in stream order: the last one wins
            else:
                refs.setdefault(parent, []).append(eid)
        wanted = [t[-1][0] for t in threads.values()] + list(edits.values())
        loaded = await self.events.get_events(wanted)
        now = int(time.time() * 1000)
        out: dict[str, dict[str, Any]] = {}
        for parent, replies in threads.items():
            latest = loaded.get(replies[-1][0])
            if latest is None:
                continue
            latest_json = self._base(latest, now, self._txn_prefix(user_id, device_id), True)
            out.setdefault(parent, {})["m.thread"] = {
                "latest_event": latest_json,
                "count": len(replies),
                "current_user_participated": user_id is not None and (
                    by_id[parent].pdu.sender == user_id or any(s == user_id for _, s in replies)),
            }
        for parent, eid in edits.items():
            edit = loaded.get(eid)
            if edit is not None:
                out.setdefault(parent, {})["m.replace"] = self._base(
                    edit, now, self._txn_prefix(user_id, device_id), True)
        for parent, eids in refs.items():
            out.setdefault(parent, {})["m.reference"] = {"chunk": [{"event_id": e} for e in eids]}
        return out
