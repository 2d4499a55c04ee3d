"""What other servers read of our rooms (server-server-api.md "Retrieving events", "Backfilling
and retrieving missing events"): `event`, `state`, `state_ids`, `event_auth`, `backfill`,
`get_missing_events`.

Only a server that is in the room (one of its users joined, or invited/knocking for the state
it needs to reply) is answered; events are served as stored (rejected ones never), redacted
ones in their redacted form. History visibility is judged per server as "is it in the room
now": a room's members' servers may read its history, which is what `shared` and `joined`
visibility mean for a server with members in the room.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...protocol import ids
from ...protocol.errors import Forbidden, InvalidParam, NotFound
from ...protocol.events import Pdu
from ...protocol.federation_peers import server_acl_allows
from ...protocol.redaction import redact
from ...storage.stores.events import EventStore, StoredEvent
from ...storage.stores.state import StateStore

MAX_BACKFILL = 100
MAX_MISSING = 50
MAX_CHAIN = 20_000


def wire(ev: StoredEvent) -> dict[str, Any]:
    """An event as it goes over federation: as signed, or redacted if a redaction applied."""
    if ev.redacted_by:
        return redact(ev.pdu.data, ev.pdu.room_version)
    return ev.pdu.data


class FederationRoomReads:
    def __init__(self, server_name: str, events: EventStore, state: StateStore) -> None:
        self.server_name = server_name
        self.events = events
        self.state = state

    async def server_in_room(self, server: str, room_id: str, memberships: Iterable[str] = ("join",)) -> bool:
        wanted = set(memberships)
        for user_id, event_id in await self.events.current_state_of_type(room_id, "m.room.member"):
            try:
                if ids.server_name_of(user_id) != server:
                    continue
            except ValueError:
                continue
            ev = await self.events.get_event(event_id)
            if ev is not None and ev.pdu.membership in wanted:
                return True
        return False

    async def acl_allows(self, origin: str, room_id: str) -> bool:
        """The room's server ACL (m.room.server_acl) lets `origin` take part."""
        acl = await self.events.current_state_event(room_id, "m.room.server_acl")
        return server_acl_allows(acl.content if acl is not None else None, origin)

    async def check_acl(self, origin: str, room_id: str) -> None:
        if not await self.acl_allows(origin, room_id):
            raise Forbidden(f"{origin} is denied by the room's server ACL")

    async def _check_access(self, origin: str, room_id: str) -> None:
        if await self.events.room_version(room_id) is None:
            raise NotFound("Unknown room")
        await self.check_acl(origin, room_id)
        if not await self.server_in_room(origin, room_id, ("join", "invite", "knock")):
            raise Forbidden(f"{origin} is not in room {room_id}")

    async def _event_in(self, room_id: str | None, event_id: str) -> StoredEvent:
        ev = await self.events.get_event(event_id)
        if ev is None or ev.rejected or (room_id is not None and ev.pdu.room_id != room_id):
            raise NotFound("Unknown event")
        return ev

    async def get_event(self, origin: str, event_id: str, now_ms: int) -> dict[str, Any]:
        ev = await self._event_in(None, event_id)
        await self._check_access(origin, ev.pdu.room_id)
        return {"origin": self.server_name, "origin_server_ts": now_ms, "pdus": [wire(ev)]}

    async def auth_chain(self, start: Iterable[str]) -> list[StoredEvent]:
        """Every event reachable through auth_events from `start` (not including them)."""
        seen: set[str] = set()
        out: list[StoredEvent] = []
        todo = list(start)
        first = True
        while todo and len(seen) < MAX_CHAIN:
            found = await self.events.get_events([t for t in todo if t not in seen])
            seen.update(todo)
            todo = []
            for ev in found.values():
                if not first:
                    out.append(ev)
                todo += [a for a in ev.pdu.auth_event_ids if a not in seen]
            if first:  # the start events themselves are not part of their chain
                first = False
        return out

    async def _state_at(self, room_id: str, event_id: str) -> dict[tuple[str, str], str]:
        """The state *before* `event_id` (as Synapse and the spec's examples take "at")."""
        ev = await self._event_in(room_id, event_id)
        if ev.state_group is None:
            raise NotFound("No state known at that event")
        state = dict(await self.state.get_state(ev.state_group))
        if ev.pdu.is_state and state.get(ev.pdu.state_tuple) == event_id:
            prev = await self._previous_state(ev.pdu)
            if prev is None:
                state.pop(ev.pdu.state_tuple)
            else:
                state[ev.pdu.state_tuple] = prev
        return state

    async def _previous_state(self, pdu: Pdu) -> str | None:
        """The state event `pdu` replaced: the same key's value before its prev_events."""
        prevs = await self.events.get_events(pdu.prev_event_ids)
        for p in prevs.values():
            if p.state_group is not None:
                before = await self.state.get_state(p.state_group)
                if pdu.state_tuple in before:
                    return before[pdu.state_tuple]
        return None

    async def state_ids(self, origin: str, room_id: str, event_id: str | None) -> dict[str, Any]:
        if not event_id:
            raise InvalidParam("event_id is required")
        await self._check_access(origin, room_id)
        state = await self._state_at(room_id, event_id)
        chain = await self.auth_chain(state.values())
        return {"pdu_ids": list(state.values()),
                "auth_chain_ids": sorted({e.event_id for e in chain} - set(state.values()))}

    async def room_state(self, origin: str, room_id: str, event_id: str | None) -> dict[str, Any]:
        if not event_id:
            raise InvalidParam("event_id is required")
        await self._check_access(origin, room_id)
        state = await self._state_at(room_id, event_id)
        found = await self.events.get_events(state.values())
        chain = [e for e in await self.auth_chain(state.values()) if e.event_id not in found]
        return {"pdus": [wire(found[e]) for e in state.values() if e in found],
                "auth_chain": [wire(e) for e in chain]}

    async def event_auth(self, origin: str, room_id: str, event_id: str) -> dict[str, Any]:
        await self._check_access(origin, room_id)
        ev = await self._event_in(room_id, event_id)
        return {"auth_chain": [wire(e) for e in await self.auth_chain([ev.event_id])]}

    async def backfill(self, origin: str, room_id: str, start: list[str], limit: int, now_ms: int) -> dict[str, Any]:
        """Up to `limit` events walking prev_events back from `start` (included), newest first."""
        await self._check_access(origin, room_id)
        limit = max(1, min(limit, MAX_BACKFILL))
        out: list[StoredEvent] = []
        seen: set[str] = set()
        frontier = list(start)
        while frontier and len(out) < limit:
            found = await self.events.get_events([f for f in frontier if f not in seen])
            seen.update(frontier)
            frontier = []
            for ev in sorted(found.values(), key=lambda e: -e.pdu.depth):
                if ev.pdu.room_id != room_id or ev.rejected:
                    continue
                if len(out) < limit:
                    out.append(ev)
                frontier += [p for p in ev.pdu.prev_event_ids if p not in seen]
        return {"origin": self.server_name, "origin_server_ts": now_ms, "pdus": [wire(e) for e in out]}

    async def timestamp_to_event(self, origin: str, room_id: str, ts: int, direction: str) -> dict[str, Any]:
        """The event nearest `ts` in direction `dir` (server-server timestamp_to_event)."""
        if direction not in ("b", "f"):
            raise InvalidParam("dir must be 'b' or 'f'")
        await self._check_access(origin, room_id)
        evs = await self.events.live_near_timestamp(room_id, ts, 2**62, forwards=direction == "f", offset=0, limit=1)
        if not evs:
            raise NotFound(f"Unable to find event from {ts} in direction {direction}")
        return {"event_id": evs[0].event_id, "origin_server_ts": evs[0].pdu.origin_server_ts}

    async def get_missing_events(self, origin: str, room_id: str, earliest: list[str], latest: list[str],
                                 limit: int, min_depth: int) -> dict[str, Any]:
        """Events before `latest` back to (not including) `earliest`, oldest first."""
        await self._check_access(origin, room_id)
        limit = max(1, min(limit, MAX_MISSING))
        stop = set(earliest)
        seen = set(latest) | stop
        out: list[StoredEvent] = []
        latest_found = await self.events.get_events(latest)
        frontier = [p for ev in latest_found.values() if ev.pdu.room_id == room_id for p in ev.pdu.prev_event_ids]
        while frontier and len(out) < limit:
            batch = [f for f in frontier if f not in seen]
            seen.update(batch)
            found = await self.events.get_events(batch)
            frontier = []
            for ev in sorted(found.values(), key=lambda e: -e.pdu.depth):
                if ev.pdu.room_id != room_id or ev.rejected or ev.pdu.depth < min_depth:
                    continue
                if len(out) < limit:
                    out.append(ev)
                frontier += [p for p in ev.pdu.prev_event_ids if p not in seen]
        out.sort(key=lambda e: e.pdu.depth)
        return {"events": [wire(e) for e in out]}
