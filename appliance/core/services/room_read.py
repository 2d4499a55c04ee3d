"""Reading rooms: state, members, single events, /messages, /context, relations, threads,
timestamp lookup, joined rooms (rooms.yaml, room_state.yaml, message_pagination.yaml,
event_context.yaml, relations.yaml, threads_list.yaml, room_event_by_timestamp.yaml).

Every read goes through `Visibility` and is bounded by what the user may see: a member sees
current state, someone who left sees the room as it was when they left, anyone may read a
`world_readable` room. Pagination tokens are stream tokens (`tokens.py`), the same as /sync's.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ..protocol import ids
from ..protocol.errors import Forbidden, InvalidParam, NotFound
from ..storage.stores.events import EventStore, StoredEvent
from ..storage.stores.memberships import MembershipRow, MembershipStore
from ..storage.stores.state import StateMap, StateStore
from ..stream import Stream
from .client_events import ClientEventFormatter
from .filtering import EventFilter
from .tokens import HISTORY_FLOOR, make_token, parse_token
from .visibility import WORLD_READABLE, Visibility

MUTUAL_ROOMS_BATCH = 100  # rooms per /mutual_rooms answer
SCAN_CAP = 2000  # events looked at per page before giving up on a restrictive filter


@dataclass(frozen=True, slots=True)
class Page:
    events: list[StoredEvent]  # in the order of the scan (newest first when backwards)
    cursor: int                # where the next page continues
    more: bool                 # whether the scan stopped before the range was exhausted


@dataclass(frozen=True, slots=True)
class Access:
    """How a user may read a room: its membership, and the stream position reads stop at."""

    membership: str | None
    upto: int           # events after this are not the user's to see
    state_event_id: str | None  # for a left user: their leave event (state is read there)


class RoomReadService:
    def __init__(self, events: EventStore, state: StateStore, memberships: MembershipStore, stream: Stream,
                 formatter: ClientEventFormatter, visibility: Visibility):
        self.events = events
        self.memberships = memberships
        self.state = state
        self.stream = stream
        self.formatter = formatter
        self.visibility = visibility

    # -- building blocks (also used by /sync) -----------------------------------------------

    async def state_ids_at(self, room_id: str, pos: int) -> StateMap:
        """The room's state after the last event at or before stream position `pos`."""
        group = await self.events.state_group_at(room_id, pos)
        if group is None:
            return {}
        return await self.state.get_state(group)

    async def state_groups_at(self, points: list[tuple[str, int]]) -> dict[tuple[str, int], int | None]:
        """`state_ids_at`'s state group for many (room_id, pos) at once."""
        return await self.events.state_groups_at(points)

    async def state_at_group(self, group: int | None) -> StateMap:
        return {} if group is None else await self.state.get_state(group)

    async def scan(self, room_id: str, user_id: str | None, *, after: int, upto: int, limit: int,
                   efilter: EventFilter, backwards: bool = True,
                   first_batch: tuple[list[StoredEvent], int] | None = None,
                   current_state: bool = False) -> Page:
        """Up to `limit` visible events in (after, upto] that pass the filter. `first_batch`: the
        newest rows of the range (backwards) and how many were asked for, read beforehand for
        many rooms at once (EventStore.latest_in_rooms); `limit + 1` rows answer most rooms.
        `current_state`: state events that are part of the room's current state are kept even
        where history visibility hides them (a /sync timeline of a joined room, see
        `_with_current_state`)."""
        collected: list[StoredEvent] = []
        scanned = 0
        lo, hi = after, upto
        batch_size = max(limit * 2, 20)
        more = False
        every = efilter.allows_every_event
        current_ids: set[str] = set()  # the room's current state event IDs, read once if needed
        while len(collected) < limit and lo < hi:
            asked = batch_size
            if first_batch is not None and backwards:
                (batch, asked), first_batch = first_batch, None
            else:
                batch = await self.events.live_window(room_id, lo, hi, batch_size, newest_first=backwards)
            if not batch:
                break
            scanned += len(batch)
            passing = batch if every else [e for e in batch if efilter.allows_event(e.pdu)]
            visible = await self.visibility.filter_events(user_id, passing)
            if current_state and len(visible) < len(passing):
                visible = await self._with_current_state(room_id, passing, visible, current_ids)
            for ev in visible:
                if len(collected) == limit:
                    more = True
                    break
                collected.append(ev)
                if backwards:
                    hi = ev.stream_pos - 1
                else:
                    lo = ev.stream_pos
            if len(collected) == limit:
                # Anything left in this batch past the last kept event means there is more.
                last = collected[-1].stream_pos
                if any((e.stream_pos < last) if backwards else (e.stream_pos > last) for e in batch):
                    more = True
                break
            if backwards:
                hi = batch[-1].stream_pos - 1
            else:
                lo = batch[-1].stream_pos
            if len(batch) < asked:
                break
            if scanned >= SCAN_CAP:
                more = True
                break
        if not more and len(collected) == limit and lo < hi:
            more = await self.events.any_live_in(room_id, lo, hi)
        return Page(collected, hi if backwards else lo, more)

    async def _with_current_state(self, room_id: str, passing: list[StoredEvent], visible: list[StoredEvent],
                                  current: set[str]) -> list[StoredEvent]:
        """`visible` plus the hidden state events of `passing` that are in the current state, in
        `passing`'s order. A member who joined a `joined`-history room while the syncing user had
        left it is current state the user must learn of: it is neither in the state delta (it
        comes after the timeline's start) nor, by the visibility rules, in the timeline, so
        without this the client would never know of them (as Synapse; sytest "Current state
        appears in timeline in private history")."""
        shown = {e.event_id for e in visible}
        hidden = [e for e in passing if e.pdu.is_state and not e.rejected and e.event_id not in shown]
        if not hidden:
            return visible
        if not current:
            current.update((await self.events.current_state_ids(room_id)).values())
        extra = {e.event_id for e in hidden if e.event_id in current}
        if not extra:
            return visible
        return [e for e in passing if e.event_id in shown or e.event_id in extra]

    async def member_events_for_senders(self, evs: list[StoredEvent], skip: set[str] = frozenset(),
                                        ) -> list[StoredEvent]:
        """Lazy-loading members: each sender's membership at the event they sent."""
        wanted: dict[str, str] = {}
        for ev in evs:
            sender = ev.pdu.sender
            if sender in wanted or sender in skip or ev.state_group is None:
                continue
            eid = (await self.state.get_state(ev.state_group)).get(("m.room.member", sender))
            if eid:
                wanted[sender] = eid
        loaded = await self.events.get_events(wanted.values())
        return [loaded[e] for e in wanted.values() if e in loaded]

    async def membership_row(self, user_id: str, room_id: str) -> MembershipRow | None:
        return await self.memberships.of(user_id, room_id)

    async def access(self, user_id: str, room_id: str) -> Access:
        """Who may read: members; those who left (up to their leave); anyone if world_readable."""
        if await self.events.room_version(room_id) is None:
            raise Forbidden("You are not allowed to view this room")  # no existence oracle
        row = await self.memberships.of(user_id, room_id)
        current = self.stream.current
        if row is not None and row.membership == "join":
            return Access("join", max(current, row.stream_pos), None)
        if await self.visibility.history_visibility(room_id) == WORLD_READABLE:
            return Access(row.membership if row else None, current, None)
        if row is not None and row.membership in ("leave", "ban") and not row.forgotten:
            # A forgotten room's history is gone for them (POST /forget).
            return Access(row.membership, row.stream_pos, row.event_id)
        raise Forbidden("You are not allowed to view this room")

    # -- state ------------------------------------------------------------------------------

    async def _state_for(self, user_id: str, room_id: str) -> StateMap:
        acc = await self.access(user_id, room_id)
        if acc.state_event_id is not None:
            ev = await self.events.get_event(acc.state_event_id)
            if ev is not None and ev.state_group is not None:
                return await self.state.get_state(ev.state_group)
        return await self.events.current_state_ids(room_id)

    async def room_state(self, user_id: str, room_id: str) -> list[dict[str, Any]]:
        ids = await self._state_for(user_id, room_id)
        loaded = await self.events.get_events(ids.values())
        evs = sorted((loaded[e] for e in ids.values() if e in loaded), key=lambda e: e.stream_pos)
        return await self.formatter.serialize(evs, user_id=user_id)

    async def state_event(self, user_id: str, room_id: str, event_type: str, state_key: str,
                          as_event: bool = False) -> dict[str, Any]:
        ids = await self._state_for(user_id, room_id)
        eid = ids.get((event_type, state_key))
        ev = await self.events.get_event(eid) if eid else None
        if ev is None:
            raise NotFound("Event not found.")
        out = await self.formatter.serialize_one(ev, user_id=user_id)
        return out if as_event else out["content"]

    async def members(self, user_id: str, room_id: str, *, at: str | None = None, membership: str | None = None,
                      not_membership: str | None = None) -> list[dict[str, Any]]:
        acc = await self.access(user_id, room_id)
        if at is not None:
            pos = min(parse_token(at, "at").stream, acc.upto)
            ids = await self.state_ids_at(room_id, pos)
        else:
            ids = await self._state_for(user_id, room_id)
        member_ids = [eid for (t, _), eid in ids.items() if t == "m.room.member"]
        loaded = await self.events.get_events(member_ids)
        evs = []
        for eid in member_ids:
            ev = loaded.get(eid)
            if ev is None:
                continue
            m = ev.pdu.membership
            if membership is not None and m != membership:
                continue
            if not_membership is not None and m == not_membership:
                continue
            evs.append(ev)
        evs.sort(key=lambda e: e.stream_pos)
        return await self.formatter.serialize(evs, user_id=user_id)

    async def joined_members(self, user_id: str, room_id: str) -> dict[str, Any]:
        acc = await self.access(user_id, room_id)
        if acc.membership != "join" and acc.state_event_id is not None:
            raise Forbidden("You are not in this room")
        ids = await self.events.current_state_ids(room_id)
        loaded = await self.events.get_events([e for (t, _), e in ids.items() if t == "m.room.member"])
        joined: dict[str, Any] = {}
        for ev in loaded.values():
            if ev.pdu.membership == "join":
                c = ev.pdu.content
                joined[ev.pdu.state_key] = {
                    "display_name": c.get("displayname") if isinstance(c.get("displayname"), str) else None,
                    "avatar_url": c.get("avatar_url") if isinstance(c.get("avatar_url"), str) else None,
                }
        return {"joined": joined}

    async def joined_rooms(self, user_id: str) -> list[str]:
        return await self.memberships.joined_room_ids(user_id)

    async def mutual_rooms(self, user_id: str, other: str, from_: str | None) -> dict[str, Any]:
        """GET /v1/mutual_rooms (mutual_rooms.yaml): the rooms both have joined, in room ID order,
        MUTUAL_ROOMS_BATCH at a time; `next_batch` is the last room ID given, encoded."""
        if not ids.is_valid_user_id(other) or other == user_id:
            raise InvalidParam("user_id must be another user's ID")
        after = ""
        if from_ is not None:
            try:
                after = base64.urlsafe_b64decode(from_.encode("ascii")).decode("utf-8")
            except (ValueError, UnicodeError):
                raise InvalidParam("Unknown from token") from None
            if not after.startswith("!"):
                raise InvalidParam("Unknown from token")
        mine = set(await self.memberships.joined_room_ids(user_id))
        shared = sorted(mine.intersection(await self.memberships.joined_room_ids(other)))
        page = [r for r in shared if r > after][:MUTUAL_ROOMS_BATCH]
        out: dict[str, Any] = {"joined": page, "count": len(shared)}
        if page and page[-1] != shared[-1]:
            out["next_batch"] = base64.urlsafe_b64encode(page[-1].encode()).decode("ascii")
        return out

    # -- single events ----------------------------------------------------------------------

    async def _visible_event(self, user_id: str, room_id: str, event_id: str) -> StoredEvent:
        acc = await self.access(user_id, room_id)
        ev = await self.events.get_event(event_id)
        if ev is None or ev.pdu.room_id != room_id or ev.rejected or ev.stream_pos > acc.upto:
            raise NotFound("Event not found.")
        if not await self.visibility.can_see_event(user_id, ev):
            raise NotFound("Event not found.")
        return ev

    async def get_event(self, user_id: str, device_id: str | None, room_id: str, event_id: str) -> dict[str, Any]:
        """GET /rooms/{roomId}/event/{eventId}: an event the user may not read, in a room they
        may not read either, is not found (rooms.yaml: 404, never 403)."""
        try:
            ev = await self._visible_event(user_id, room_id, event_id)
        except Forbidden:
            raise NotFound("Event not found.") from None
        return await self.formatter.serialize_one(ev, user_id=user_id, device_id=device_id)

    # -- /messages --------------------------------------------------------------------------

    async def messages(self, user_id: str, device_id: str | None, room_id: str, *, from_: str | None,
                       to: str | None, direction: str, limit: int, efilter: EventFilter) -> dict[str, Any]:
        if direction not in ("b", "f"):
            raise InvalidParam("dir must be 'b' or 'f'")
        acc = await self.access(user_id, room_id)
        backwards = direction == "b"
        if from_ is not None:
            start = min(parse_token(from_, "from").stream, acc.upto)
        else:
            start = acc.upto if backwards else 0
        if efilter.limit is not None:
            limit = min(limit, efilter.limit)
        limit = max(1, min(limit, 1000))
        if backwards:
            bound = parse_token(to, "to").stream if to is not None else HISTORY_FLOOR
            page = await self.scan(room_id, user_id, after=bound, upto=start, limit=limit, efilter=efilter)
        else:
            bound = min(parse_token(to, "to").stream, acc.upto) if to is not None else acc.upto
            page = await self.scan(room_id, user_id, after=start, upto=bound, limit=limit, efilter=efilter,
                                   backwards=False)
        if not efilter.allows_room(room_id):
            page = Page([], page.cursor, False)
        chunk = await self.formatter.serialize(page.events, user_id=user_id, device_id=device_id)
        pos = self.stream.position()
        out: dict[str, Any] = {"start": make_token(start, pos.ephemeral), "chunk": chunk}
        if page.more:
            out["end"] = make_token(page.cursor, pos.ephemeral)
        if efilter.lazy_load_members:
            members = await self.member_events_for_senders(page.events)
            out["state"] = await self.formatter.serialize(members, user_id=user_id)
        return out

    # -- /context ---------------------------------------------------------------------------

    async def context(self, user_id: str, device_id: str | None, room_id: str, event_id: str, *,
                      limit: int, efilter: EventFilter) -> dict[str, Any]:
        ev = await self._visible_event(user_id, room_id, event_id)
        acc = await self.access(user_id, room_id)
        if efilter.limit is not None:
            limit = min(limit, efilter.limit)
        limit = max(0, min(limit, 1000))
        n_before = limit // 2
        n_after = limit - n_before
        before = await self.scan(room_id, user_id, after=HISTORY_FLOOR, upto=ev.stream_pos - 1, limit=n_before,
                                 efilter=efilter) if n_before else Page([], ev.stream_pos - 1, True)
        after = await self.scan(room_id, user_id, after=ev.stream_pos, upto=acc.upto, limit=n_after,
                                efilter=efilter, backwards=False) if n_after else Page([], ev.stream_pos, True)
        last = after.events[-1] if after.events else ev
        if efilter.lazy_load_members:
            state_evs = await self.member_events_for_senders([ev, *before.events, *after.events])
        else:
            ids = await self.state.get_state(last.state_group) if last.state_group is not None else {}
            loaded = await self.events.get_events(ids.values())
            state_evs = sorted((loaded[e] for e in ids.values() if e in loaded), key=lambda e: e.stream_pos)
        eph = self.stream.ephemeral
        kw = {"user_id": user_id, "device_id": device_id}
        return {
            "event": await self.formatter.serialize_one(ev, **kw),
            "events_before": await self.formatter.serialize(before.events, **kw),
            "events_after": await self.formatter.serialize(after.events, **kw),
            "start": make_token(before.cursor, eph),
            "end": make_token(after.cursor, eph),
            "state": await self.formatter.serialize(state_evs, **kw),
        }

    # -- relations and threads --------------------------------------------------------------

    async def relations(self, user_id: str, device_id: str | None, room_id: str, event_id: str, *,
                        rel_type: str | None, event_type: str | None, from_: str | None, to: str | None,
                        limit: int, direction: str, recurse: bool) -> dict[str, Any]:
        if direction not in ("b", "f"):
            raise InvalidParam("dir must be 'b' or 'f'")
        await self._visible_event(user_id, room_id, event_id)
        acc = await self.access(user_id, room_id)
        limit = max(1, min(limit, 1000))
        backwards = direction == "b"
        max_depth = 3 if recurse else 1
        parents = [event_id]
        children: list[str] = []
        depth = 0
        for depth in range(1, max_depth + 1):
            found = [e for e in await self.events.live_children_of(room_id, parents) if e not in children]
            if not found:
                depth -= 1
                break
            children += found
            parents = found
        depth = max(depth, 1) if recurse else depth
        loaded = await self.events.get_events(children)
        candidates = []
        for ev in loaded.values():
            if ev.stream_pos > acc.upto:
                continue
            rel = ev.pdu.content.get("m.relates_to")
            direct = isinstance(rel, dict) and rel.get("event_id") == event_id
            if rel_type is not None:
                if not isinstance(rel, dict) or rel.get("rel_type") != rel_type:
                    continue
                if not recurse and not direct:
                    continue
            if event_type is not None and ev.pdu.type != event_type:
                continue
            candidates.append(ev)
        lo = parse_token(from_, "from").stream if (from_ and not backwards) else 0
        hi = parse_token(from_, "from").stream if (from_ and backwards) else acc.upto
        if to:
            t = parse_token(to, "to").stream
            if backwards:
                lo = max(lo, t)
            else:
                hi = min(hi, t)
        candidates = [e for e in candidates if lo < e.stream_pos <= hi]
        candidates.sort(key=lambda e: e.stream_pos, reverse=backwards)
        visible = await self.visibility.filter_events(user_id, candidates)
        page = visible[:limit]
        eph = self.stream.ephemeral
        out: dict[str, Any] = {"chunk": await self.formatter.serialize(page, user_id=user_id, device_id=device_id)}
        if len(visible) > limit:
            last = page[-1].stream_pos
            out["next_batch"] = make_token(last - 1 if backwards else last, eph)
        if from_:
            out["prev_batch"] = from_
        if recurse:
            out["recursion_depth"] = depth
        return out

    async def threads(self, user_id: str, device_id: str | None, room_id: str, *, include: str,
                      from_: str | None, limit: int) -> dict[str, Any]:
        if include not in ("all", "participated"):
            raise InvalidParam("include must be 'all' or 'participated'")
        acc = await self.access(user_id, room_id)
        limit = max(1, min(limit, 1000))
        upto = min(parse_token(from_, "from").stream, acc.upto) if from_ else acc.upto
        participated = include == "participated"
        out_evs: list[tuple[StoredEvent, int]] = []
        cursor = upto
        while len(out_evs) <= limit:
            rows = await self.events.thread_roots(room_id, user_id, acc.upto, cursor, limit + 1)
            if not rows:
                break
            roots = await self.events.get_events([r[0] for r in rows])
            for root_id, latest, mine in rows:
                root = roots.get(root_id)
                if root is None or root.pdu.room_id != room_id:
                    continue
                if participated and not mine and root.pdu.sender != user_id:
                    continue
                if await self.visibility.filter_events(user_id, [root]):
                    out_evs.append((root, latest))
            cursor = rows[-1][1] - 1
            if len(rows) < limit + 1:
                break
        page = out_evs[:limit]
        out: dict[str, Any] = {"chunk": await self.formatter.serialize([e for e, _ in page], user_id=user_id,
                                                                        device_id=device_id)}
        if len(out_evs) > limit:
            out["next_batch"] = make_token(page[-1][1] - 1, self.stream.ephemeral)
        return out

    # -- /timestamp_to_event ----------------------------------------------------------------

    async def timestamp_to_event(self, user_id: str, room_id: str, ts: int, direction: str) -> dict[str, Any]:
        if direction not in ("b", "f"):
            raise InvalidParam("dir must be 'b' or 'f'")
        acc = await self.access(user_id, room_id)
        offset = 0
        while True:
            evs = await self.events.live_near_timestamp(room_id, ts, acc.upto, forwards=direction == "f",
                                                        offset=offset, limit=50)
            if not evs:
                raise NotFound(f"Unable to find event from {ts} in direction {direction}")
            visible = await self.visibility.filter_events(user_id, evs, ignore=False)
            if visible:
                ev = visible[0]
                return {"event_id": ev.event_id, "origin_server_ts": ev.pdu.origin_server_ts}
            offset += 50
