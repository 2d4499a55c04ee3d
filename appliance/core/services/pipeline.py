"""The event pipeline: build → authorise → hash & sign → persist → advance the stream.

Local sends and (later) federated events share `persist`; only building and signing are
local. Sends into one room are serialised by a per-room lock so that each new event points
at the room's current forward extremities; different rooms proceed in parallel and their
writes share group commits.
"""
from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..metrics import Histogram
from ..protocol import ids, room_versions
from ..protocol.auth_rules import AuthFailure, auth_types_for_event, check_auth
from ..protocol.canonical_json import encode_canonical_json
from ..protocol.errors import BadJson, Forbidden, MatrixError, NotFound, TooLarge
from ..protocol.events import Pdu, StateKey
from ..protocol.hashes import compute_reference_hash
from ..protocol.room_versions import RoomVersion
from ..protocol.signing import SigningKey, hash_sign_and_encode_event
from ..protocol.state_res import resolve
from ..storage.database import Database
from ..storage.stores.events import EventStore, StoredEvent
from ..storage.stores.state import StateMap, StateStore
from ..signals import Event
from ..stream import Stream
from unpaddedbase64 import encode_base64

log = logging.getLogger(__name__)

MAX_PREV_EVENTS = 10

# How a room's current state changes: state key -> (event ID, membership) or None (removed).
CurrentChanges = dict[StateKey, "tuple[str, str | None] | None"]


@dataclass(slots=True)
class _InFlight:
    """A room's message events queued to the writer but not committed yet: what the next
    event in the room needs to point at them (its prev_events) before they are on disk."""

    count: int = 0
    extremities: list[str] | None = None
    events: dict[str, StoredEvent] | None = None


@dataclass(frozen=True, slots=True)
class Persisted:
    pdu: Pdu
    stream_pos: int
    state_group: int


class EventPipeline:
    def __init__(self, db: Database, events: EventStore, state: StateStore, stream: Stream,
                 server_name: str, signing_key: SigningKey, persisted: Event[[Persisted]],
                 max_event_bytes: int = 65536):
        self.db = db
        self.events = events
        self.state = state
        self.stream = stream
        self.server_name = server_name
        self.signing_key = signing_key
        self.max_event_bytes = max_event_bytes
        self._room_locks: dict[str, asyncio.Lock] = {}
        self._last_create_ts = 0
        self._in_flight: dict[str, _InFlight] = {}
        # Forward extremities as committed, by room: read once from the database (under the
        # room's lock with nothing of the room in flight) and then kept up to date by each
        # persist's done callback on its write (callbacks run in commit order). Only
        # the pipeline writes forward_extremities; a failed write drops the room's entry.
        self._extremities: dict[str, list[str]] = {}
        self.persisted = persisted  # emitted after commit (presence, push, search, bridges, …)
        self.persist_seconds = Histogram()  # persist(): queued, written, committed (core/metrics.py)

    def _timestamp(self, unique: bool = False) -> int:
        """Now in ms. A v12 create event's ID (the room ID) hashes sender, content and time
        only: two rooms created by one user in the same millisecond get distinct times."""
        ts = int(time.time() * 1000)
        if unique:
            ts = max(ts, self._last_create_ts + 1)
            self._last_create_ts = ts
        return ts

    def room_lock(self, room_id: str) -> asyncio.Lock:
        lock = self._room_locks.get(room_id)
        if lock is None:
            lock = self._room_locks[room_id] = asyncio.Lock()
        return lock

    # -- state ------------------------------------------------------------------------------

    async def state_at(self, event_id: str) -> StateMap:
        """State after an event."""
        ev = await self.events.get_event(event_id)
        if ev is None or ev.state_group is None:
            raise NotFound(f"No state known at {event_id}")
        return await self.state.get_state(ev.state_group)

    async def _get_prev_events(self, room_id: str, ids: list[str]) -> dict[str, StoredEvent]:
        """Events by ID, including the room's in-flight ones (queued, not yet committed)."""
        flight = self._in_flight.get(room_id)
        if flight is None or not flight.events:
            return await self.events.get_events(ids)
        found = {i: flight.events[i] for i in ids if i in flight.events}
        rest = [i for i in ids if i not in found]
        if rest:
            found.update(await self.events.get_events(rest))
        return found

    async def state_before(self, room_id: str, prev_ids: list[str], version: RoomVersion) -> tuple[StateMap, int | None]:
        """State before an event with these prev_events, and the group it is stored as if any."""
        prevs = await self._get_prev_events(room_id, prev_ids)
        groups = {prevs[p].state_group for p in prev_ids if p in prevs and prevs[p].state_group is not None}
        if not groups:
            return {}, None
        if len(groups) == 1:
            g = next(iter(groups))
            return await self.state.get_state(g), g
        states = [await self.state.get_state(g) for g in groups]
        return await self._resolve(version, states), None

    async def _resolve(self, version: RoomVersion, states: list[StateMap], new: Pdu | None = None) -> StateMap:
        """`new`: an event in one of the states that is not stored yet (a federated event being
        persisted): resolution must see it, or it would lose to the other side whatever it is."""
        loaded: dict[str, Pdu] = {new.event_id: new} if new is not None else {}

        async def load_chain(ids_: Iterable[str]) -> set[str]:
            seen: set[str] = set()
            todo = list(ids_)
            while todo:
                batch = [e for e in todo if e not in seen]
                seen.update(batch)
                todo = []
                pending = [e for e in batch if e not in loaded]
                found = {e: loaded[e] for e in batch if e in loaded}
                for ev in (await self.events.get_events(pending)).values() if pending else ():
                    found[ev.event_id] = loaded[ev.event_id] = ev.pdu
                for pdu in found.values():
                    todo += [a for a in pdu.auth_event_ids if a not in seen]
            return seen

        chains = []
        for s in states:
            await load_chain(s.values())
            chain: set[str] = set()
            for eid in s.values():
                pdu = loaded.get(eid)
                if pdu is not None:
                    chain |= await load_chain(pdu.auth_event_ids)
            chains.append(chain)
        return await asyncio.to_thread(resolve, version, states, chains, loaded.get)

    # -- building local events --------------------------------------------------------------

    async def create_event(self, room_id: str | None, sender: str, event_type: str, content: dict[str, Any], *,
                           state_key: str | None = None, txn_key: str | None = None,
                           version: RoomVersion | None = None, extra: dict[str, Any] | None = None,
                           prev_ids_override: list[str] | None = None) -> Persisted:
        """Build, authorise, sign and persist a new local event; returns once it is on disk.

        `room_id` is None only for a v12 create event (the room ID is then derived from it).
        """
        if room_id is None:
            assert event_type == "m.room.create" and version is not None
            return await self._create_and_persist(None, version, sender, event_type, content, state_key,
                                                  txn_key, extra, [])
        version = version or await self.events.room_version(room_id)
        if version is None:
            raise NotFound("Unknown room")
        # Sends into one room are serialised by the room's lock, but only until the event is
        # queued to the writer: a message event releases it then (`on_queued`), so the next one
        # is built meanwhile and both share a group commit. State events hold it to the commit.
        lock = self.room_lock(room_id)
        await lock.acquire()
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                lock.release()

        try:
            if prev_ids_override is not None:
                prevs = prev_ids_override
            else:
                flight = self._in_flight.get(room_id)
                prevs = list(flight.extremities) if flight is not None and flight.extremities is not None \
                    else await self._committed_extremities(room_id)
            return await self._create_and_persist(room_id, version, sender, event_type, content, state_key,
                                                  txn_key, extra, prevs[-MAX_PREV_EVENTS:], on_queued=release)
        finally:
            release()

    async def create_batch(self, room_id: str, items: list[tuple[str, str, dict[str, Any], int]]) -> list[Persisted]:
        """Many local message events in one room, each `(sender, type, content, ts)`, built one
        after the other (each one's prev_event is the one before), persisted in one write job and
        announced with one advance of the stream: a history backfill that wakes each waiting
        client once, not once per event. State events are refused (the state must not change
        within a batch: every event is authorised against the same state)."""
        if not items:
            return []
        version = await self.events.room_version(room_id)
        if version is None:
            raise NotFound("Unknown room")
        started = time.perf_counter()
        async with self.room_lock(room_id):  # held to the commit: nothing else is built on these meanwhile
            flight = self._in_flight.get(room_id)
            prevs = list(flight.extremities) if flight is not None and flight.extremities is not None \
                else await self._committed_extremities(room_id)
            prevs = prevs[-MAX_PREV_EVENTS:]
            prev_events = await self._get_prev_events(room_id, prevs)
            depth = max((prev_events[p].pdu.depth for p in prevs if p in prev_events), default=0)
            state_before, before_group = await self.state_before(room_id, prevs, version)
            if before_group is None:
                before_group = await self.db.write(
                    lambda conn: self.state.store_group_job(conn, room_id, state_before, None, None))
            create_id = state_before.get(("m.room.create", ""))
            create_ev = await self.events.get_event(create_id) if create_id else None
            create_pdu = create_ev.pdu if create_ev else None
            built: list[tuple[Pdu, str, list[str]]] = []
            fmt = version.event_format
            last: Pdu | None = None
            for sender, event_type, content, ts in items:
                auth_keys = auth_types_for_event(version, event_type, None, sender, content)
                auth_ids = [state_before[k] for k in auth_keys if k in state_before]
                auth_events = await self.events.get_events(auth_ids)
                auth_map = {k: auth_events[state_before[k]].pdu for k in auth_keys
                            if k in state_before and state_before[k] in auth_events}
                depth += 1
                data: dict[str, Any] = {"type": event_type, "sender": sender, "content": content, "room_id": room_id,
                                        "origin_server_ts": ts, "depth": depth}
                parents = [last] if last is not None else [prev_events[p].pdu for p in prevs if p in prev_events]
                if fmt.prev_refs_with_hashes:
                    data["prev_events"] = [[p.event_id, _ref_hash(p)] for p in parents]
                    data["auth_events"] = [[a, _ref_hash(auth_events[a].pdu)] for a in auth_ids if a in auth_events]
                    data["origin"] = self.server_name
                    data["event_id"] = ids.make_v1_event_id(self.server_name)
                else:
                    data["prev_events"] = [p.event_id for p in parents]
                    data["auth_events"] = [a for a in auth_ids if a in auth_events]
                try:
                    signed, encoded, hashed_id = hash_sign_and_encode_event(data, self.server_name, self.signing_key,
                                                                            version)
                except ValueError as exc:
                    raise MatrixError(f"Event is not valid canonical JSON: {exc}", errcode="M_BAD_JSON") from None
                if len(encoded) > self.max_event_bytes:
                    raise TooLarge(f"Event is larger than {self.max_event_bytes} bytes")
                pdu = Pdu(signed["event_id"] if hashed_id is None else hashed_id, version, signed)
                if pdu.is_state:
                    raise BadJson("A batch holds message events only")
                try:
                    check_auth(pdu, auth_map, create_event=create_pdu)
                except AuthFailure as exc:
                    raise Forbidden(f"{sender} may not send this: {exc}") from None
                built.append((pdu, encoded.decode(), [p.event_id for p in parents]))
                last = pdu
            group = before_group

            def job(conn: sqlite3.Connection) -> list[int]:
                positions = []
                for pdu, json_text, parent_ids in built:
                    pos = self.stream.allocate(conn)
                    self.events.insert_event_job(conn, pdu, pos, group, json_text, None)
                    self.events.set_forward_extremities_job(conn, room_id, pdu.event_id, parent_ids)
                    positions.append(pos)
                return positions

            try:
                positions = await asyncio.shield(self.db.submit(job))
            except BaseException:
                self._extremities.pop(room_id, None)  # the database is the truth again
                raise
        for pdu, json_text, parent_ids in built:
            self._apply_extremities(room_id, pdu.event_id, parent_ids)
        out = []
        for (pdu, json_text, _parents), pos in zip(built, positions):
            if fmt.strict_canonical_json:
                self.events.remember(StoredEvent(pdu, pos, group, None, None, None), len(json_text))
            out.append(Persisted(pdu, pos, group))
        self.stream.advance(positions[-1], [room_id])  # one wake-up for the whole batch
        self.persist_seconds.observe(time.perf_counter() - started)
        for persisted in out:
            self.persisted.emit(persisted)
        return out

    async def _committed_extremities(self, room_id: str) -> list[str]:
        """The room's forward extremities when none of its events is in flight (room lock held)."""
        ext = self._extremities.get(room_id)
        if ext is None:
            ext = self._extremities[room_id] = await self.events.forward_extremities(room_id)
        return list(ext)

    def _committed(self, room_id: str, event_id: str, prev_ids: list[str], fut: asyncio.Future) -> None:
        """The write's future is done: on success the event replaced its prev_events among
        the extremities (the writer job's DELETE and INSERT OR IGNORE, applied to the cached
        list); on failure the database is the truth again. A done callback, not the awaiting
        task's continuation: callbacks run in commit order even when that task is cancelled."""
        if fut.cancelled() or fut.exception() is not None:
            self._extremities.pop(room_id, None)
            return
        self._apply_extremities(room_id, event_id, prev_ids)

    def _apply_extremities(self, room_id: str, event_id: str, prev_ids: list[str]) -> None:
        """A committed event replaced its prev_events among the room's cached extremities."""
        ext = self._extremities.get(room_id)
        if ext is not None:
            new = [e for e in ext if e not in prev_ids]
            if event_id not in new:
                new.append(event_id)
            self._extremities[room_id] = new

    async def _create_and_persist(self, room_id: str | None, version: RoomVersion, sender: str, event_type: str,
                                  content: dict[str, Any], state_key: str | None, txn_key: str | None,
                                  extra: dict[str, Any] | None, prev_ids: list[str],
                                  on_queued: Any = None) -> Persisted:
        prev_events = await self._get_prev_events(room_id or "", prev_ids)
        depth = max((prev_events[p].pdu.depth for p in prev_ids if p in prev_events), default=0) + 1
        state_before, before_group = await self.state_before(room_id or "", prev_ids, version) if prev_ids else ({}, None)

        auth_keys = auth_types_for_event(version, event_type, state_key, sender, content)
        auth_ids = [state_before[k] for k in auth_keys if k in state_before]
        auth_map_events = await self.events.get_events(auth_ids)
        auth_map: dict[StateKey, Pdu] = {}
        for k in auth_keys:
            eid = state_before.get(k)
            if eid is not None and eid in auth_map_events:
                auth_map[k] = auth_map_events[eid].pdu
        create_pdu = None
        if ("m.room.create", "") in state_before:
            create_ev = await self.events.get_event(state_before[("m.room.create", "")])
            create_pdu = create_ev.pdu if create_ev else None

        data: dict[str, Any] = {
            "type": event_type,
            "sender": sender,
            "content": content,
            "origin_server_ts": self._timestamp(unique=room_id is None),
            "depth": depth,
        }
        if room_id is not None:
            data["room_id"] = room_id
        if state_key is not None:
            data["state_key"] = state_key
        if extra:
            data.update(extra)
        fmt = version.event_format
        if fmt.prev_refs_with_hashes:
            data["prev_events"] = [[p, _ref_hash(prev_events[p].pdu)] for p in prev_ids if p in prev_events]
            data["auth_events"] = [[a, _ref_hash(auth_map_events[a].pdu)] for a in auth_ids if a in auth_map_events]
            data["origin"] = self.server_name
            data["event_id"] = ids.make_v1_event_id(self.server_name)
        else:
            data["prev_events"] = [p for p in prev_ids if p in prev_events]
            data["auth_events"] = [a for a in auth_ids if a in auth_map_events]
        if event_type == "m.room.create" and fmt.create_has_creator:
            data["content"] = {"creator": sender, **content}

        try:
            signed, encoded, hashed_id = hash_sign_and_encode_event(data, self.server_name, self.signing_key, version)
        except ValueError as exc:
            raise MatrixError(f"Event is not valid canonical JSON: {exc}", errcode="M_BAD_JSON") from None
        if len(encoded) > self.max_event_bytes:
            raise TooLarge(f"Event is larger than {self.max_event_bytes} bytes")
        event_id = signed["event_id"] if hashed_id is None else hashed_id
        pdu = Pdu(event_id, version, signed)
        if room_id is None:
            room_id = pdu.room_id

        try:
            check_auth(pdu, auth_map, create_event=create_pdu)
        except AuthFailure as exc:
            raise Forbidden(f"You are not allowed to do that: {exc}") from None
        return await self.persist(pdu, state_before, before_group, txn_key=txn_key, json_text=encoded.decode(),
                                  on_queued=on_queued)

    # -- persisting -------------------------------------------------------------------------

    async def persist(self, pdu: Pdu, state_before: StateMap, before_group: int | None, *,
                      txn_key: str | None = None, json_text: str | None = None,
                      on_queued: Any = None, current_changes: CurrentChanges | None = None) -> Persisted:
        """Store an authorised event with the state after it, then advance the stream.

        `on_queued` (called with the room lock held by create_event) releases that lock as soon
        as a plain message event is queued to the writer; the event is remembered as in flight
        until it is committed, so that the next event of the room can point at it.

        `current_changes`: how the room's current state changes, when that is not simply this
        event's own state key (an event from federation on a fork: the current state is then the
        resolution of the room's forward extremities' states, see `persist_remote`)."""
        started = time.perf_counter()
        room_id = pdu.room_id
        if json_text is None:
            json_text = encode_canonical_json(pdu.data).decode()
        state_after: StateMap
        delta: dict[StateKey, str | None] | None
        if pdu.is_state:
            state_after = dict(state_before)
            state_after[pdu.state_tuple] = pdu.event_id
            delta = {pdu.state_tuple: pdu.event_id}
        else:
            state_after = state_before
            delta = None
        is_create = pdu.type == "m.room.create" and pdu.state_key == ""
        redacts = pdu.redacts
        redaction_target = None
        if redacts:
            target = await self.events.get_event(redacts)
            if target is not None and target.pdu.room_id == room_id and await self._may_apply_redaction(pdu, target.pdu, state_before):
                redaction_target = redacts
        membership_change = None
        if current_changes is None and pdu.type == "m.room.member" and pdu.state_key is not None:
            membership_change = (pdu.state_key, pdu.membership or "leave")
        changed_members = [k[1] for k in current_changes or () if k[0] == "m.room.member"]

        def job(conn: sqlite3.Connection) -> tuple[int, int]:
            pos = self.stream.allocate(conn)
            if is_create:
                self.events.insert_room_job(conn, room_id, pdu.room_version.id, pdu.sender, pdu.origin_server_ts)
            if pdu.is_state or before_group is None:
                group = self.state.store_group_job(conn, room_id, state_after,
                                                   before_group, delta if before_group is not None else None)
            else:
                group = before_group
            self.events.insert_event_job(conn, pdu, pos, group, json_text, txn_key)
            self.events.set_forward_extremities_job(conn, room_id, pdu.event_id, pdu.prev_event_ids)
            if current_changes is not None:
                self.events.apply_current_state_changes_job(conn, room_id, current_changes, pos)
            elif pdu.is_state:
                self.events.set_current_state_job(conn, room_id, pdu.state_tuple, pdu.event_id, pdu.membership)
            if membership_change:
                self.events.set_membership_job(conn, membership_change[0], room_id, membership_change[1],
                                               pdu.event_id, pos)
            if redaction_target:
                self.events.mark_redacted_job(conn, redaction_target, pdu.event_id)
            return pos, group

        pipelined = (on_queued is not None and not pdu.is_state and before_group is not None
                     and not redacts and membership_change is None and not is_create and not current_changes)
        flight = self._in_flight.get(room_id)
        if pipelined or flight is not None:
            # Extremities after this event, as the writer will leave them once it is committed.
            old = list(flight.extremities) if flight is not None and flight.extremities is not None \
                else await self._committed_extremities(room_id)
            if flight is None:
                flight = self._in_flight[room_id] = _InFlight(extremities=None, events={})
            prevs = set(pdu.prev_event_ids)
            flight.extremities = [e for e in old if e not in prevs and e != pdu.event_id] + [pdu.event_id]
            flight.count += 1
            if pipelined:
                assert flight.events is not None
                flight.events[pdu.event_id] = StoredEvent(pdu, 0, before_group, None, None, txn_key)
        try:
            fut = self.db.submit(job)
            fut.add_done_callback(partial(self._committed, room_id, pdu.event_id, pdu.prev_event_ids))
            if pipelined:
                on_queued()
            # Shielded: a cancelled request does not cancel its write (the job runs anyway),
            # so the done callback above always learns how the write ended.
            pos, group = await asyncio.shield(fut)
        except BaseException:
            # In-flight bookkeeping can no longer be trusted: the database is the truth again.
            if flight is not None and self._in_flight.get(room_id) is flight:
                del self._in_flight[room_id]
            raise
        finally:
            if flight is not None:
                flight.count -= 1
                if flight.events is not None:
                    flight.events.pop(pdu.event_id, None)
                if flight.count == 0 and self._in_flight.get(room_id) is flight:
                    del self._in_flight[room_id]
        self.events.remember_room_version(room_id, pdu.room_version)
        if pdu.room_version.event_format.strict_canonical_json:
            # As it would be read back: strict canonical JSON has no floats to normalise.
            self.events.remember(StoredEvent(pdu, pos, group, None, None, txn_key), len(json_text))
        if group != before_group:
            self.state.remember(group, state_after if isinstance(state_after, dict) else dict(state_after))
        if redaction_target:
            self.events.invalidate(redaction_target)
        keys = [room_id, *changed_members]
        if membership_change:
            keys.append(membership_change[0])
        self.stream.advance(pos, keys)
        self.persist_seconds.observe(time.perf_counter() - started)
        persisted = Persisted(pdu, pos, group)
        self.persisted.emit(persisted)  # a listener never breaks a send that has landed
        return persisted

    # -- events from federation -------------------------------------------------------------

    async def extremities_now(self, room_id: str) -> list[str]:
        """The room's forward extremities, counting events in flight (room lock held)."""
        flight = self._in_flight.get(room_id)
        if flight is not None and flight.extremities is not None:
            return list(flight.extremities)
        return await self._committed_extremities(room_id)

    async def persist_remote(self, pdu: Pdu, state_before: StateMap, before_group: int | None,
                             json_text: str | None = None) -> Persisted:
        """An accepted event from another server (pdu_checks said so), with the room lock held:
        persisted as a local one, except that the current state becomes the resolution of the
        states after the forward extremities it leaves (an event on a fork of the DAG may lose
        to the other side's state, and two servers must end with the same current state)."""
        room_id = pdu.room_id
        version = pdu.room_version
        state_after = dict(state_before)
        if pdu.is_state:
            state_after[pdu.state_tuple] = pdu.event_id
        old = await self.extremities_now(room_id)
        prevs = set(pdu.prev_event_ids)
        others = [e for e in old if e not in prevs and e != pdu.event_id]
        if others:
            found = await self._get_prev_events(room_id, others)
            states = [state_after]
            for ext in others:
                ev = found.get(ext)
                if ev is not None and ev.state_group is not None:
                    states.append(await self.state.get_state(ev.state_group))
            new_current = await self._resolve(version, states, pdu) if len(states) > 1 else state_after
        else:
            new_current = state_after
        current = await self.events.current_state_ids(room_id)
        changes_ids = {k: v for k, v in new_current.items() if current.get(k) != v}
        members = await self.events.get_events([v for k, v in changes_ids.items() if k[0] == "m.room.member"])
        changes: CurrentChanges = {
            k: (v, members[v].pdu.membership if v in members else (pdu.membership if v == pdu.event_id else None))
            for k, v in changes_ids.items()}
        for k in current:
            if k not in new_current:
                changes[k] = None
        return await self.persist(pdu, state_before, before_group, json_text=json_text, current_changes=changes)

    async def persist_unlive(self, pdu: Pdu, *, rejected: str | None = None, outlier: bool = False,
                             state: StateMap | None = None) -> int:
        """An event from federation that is not part of the live timeline: rejected (kept, with
        why), soft-failed or an outlier (auth and state events fetched for a join or a check).
        It gets a stream position (the events table's key) but no extremity and no current state;
        `state`: the state after it, stored as a group (soft-failed events may be built upon)."""
        room_id = pdu.room_id
        json_text = encode_canonical_json(pdu.data).decode()
        is_create = pdu.type == "m.room.create" and pdu.state_key == ""

        def job(conn: sqlite3.Connection) -> int:
            if self.events.has_event_job(conn, pdu.event_id):
                return 0
            pos = self.stream.allocate(conn)
            if is_create:
                self.events.insert_room_job(conn, room_id, pdu.room_version.id, pdu.sender, pdu.origin_server_ts)
            group = self.state.store_group_job(conn, room_id, state, None, None) if state is not None else None
            self.events.insert_event_job(conn, pdu, pos, group, json_text, None, rejected=rejected, outlier=outlier)
            return pos

        pos = await self.db.write(job)
        self.events.remember_room_version(room_id, pdu.room_version)
        if pos:
            self.stream.advance(pos)
        return pos

    async def persist_outliers(self, room_id: str, version: RoomVersion, pdus: list[Pdu]) -> None:
        """Many outliers of one room in one write job (a join's state and auth chain); events
        already stored are left as they are; the room is recorded (its version) if new."""
        rows = [(p, encode_canonical_json(p.data).decode()) for p in pdus]
        create = next((p for p in pdus if p.type == "m.room.create" and p.state_key == ""), None)

        def job(conn: sqlite3.Connection) -> int:
            if create is not None:
                self.events.insert_room_job(conn, room_id, version.id, create.sender, create.origin_server_ts)
            pos = 0
            for p, text in rows:
                if self.events.has_event_job(conn, p.event_id):
                    continue
                pos = self.stream.allocate(conn)
                self.events.insert_event_job(conn, p, pos, None, text, None, outlier=True)
            return pos

        pos = await self.db.write(job)
        self.events.remember_room_version(room_id, version)
        if pos:
            self.stream.advance(pos)

    async def _may_apply_redaction(self, redaction: Pdu, target: Pdu, state: StateMap) -> bool:
        """Spec "Handling redactions": applied if the redacter may redact others' events or
        redacts an event from their own server."""
        from ..protocol.power_levels import get_named_level, get_user_power_level

        if ids.server_name_of(redaction.sender) == ids.server_name_of(target.sender):
            if redaction.sender == target.sender:
                return True
        pl_id = state.get(("m.room.power_levels", ""))
        create_id = state.get(("m.room.create", ""))
        evs = await self.events.get_events([x for x in (pl_id, create_id) if x])
        pl = evs[pl_id].pdu if pl_id in evs else None
        create = evs[create_id].pdu if create_id in evs else None
        return get_user_power_level(redaction.sender, pl, create) >= get_named_level(pl, "redact")


def _ref_hash(pdu: Pdu) -> dict[str, str]:
    return {"sha256": encode_base64(compute_reference_hash(pdu.data, pdu.room_version))}
