"""Space hierarchy (modules/spaces, space_hierarchy.yaml): GET /rooms/{roomId}/hierarchy.

A depth-first walk over the `m.space.child` state of space-rooms: a child counts when its
content has a non-empty `via`; children are ordered by a valid `order`, then by the child
event's `origin_server_ts`, then by room ID. A room is listed when the user may see it
(joined, invited, a public / knock / restricted-and-allowed join rule, or world_readable);
loops are broken by listing each room once. Rooms this server does not know (they would need
federation) are left out.

Pagination is stateless: `next_batch` says how many rooms of the same walk were already
returned, together with the `suggested_only` and `max_depth` it was made with.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..protocol.errors import Forbidden, InvalidParam
from ..protocol.redaction import redact
from ..storage.stores.events import EventStore, StoredEvent
from .rooms.aliases import RoomAliases

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
DEFAULT_MAX_DEPTH = 10
MAX_DEPTH = 50
MAX_ROOMS_WALKED = 2000
_TOKEN = re.compile(r"h([0-9]{1,9})_([01])_([0-9]{1,3})")
_ORDER = re.compile(r"[\x20-\x7e]{1,50}")


@dataclass(frozen=True, slots=True)
class Child:
    room_id: str
    event: StoredEvent
    content: dict[str, Any]

    @property
    def order(self) -> str | None:
        order = self.content.get("order")
        return order if isinstance(order, str) and _ORDER.fullmatch(order) else None

    def sort_key(self) -> tuple:
        order = self.order
        return (order is None, order or "", self.event.pdu.origin_server_ts, self.room_id)


class SpaceHierarchyService:
    def __init__(self, events: EventStore, aliases: RoomAliases):
        self.events = events
        self.aliases = aliases

    async def _content(self, room_id: str, type_: str, state_key: str = "") -> dict[str, Any]:
        eid = await self.events.current_state_event_id(room_id, type_, state_key)
        ev = await self.events.get_event(eid) if eid else None
        if ev is None:
            return {}
        data = redact(ev.pdu.data, ev.pdu.room_version) if ev.redacted_by else ev.pdu.data
        content = data.get("content")
        return content if isinstance(content, dict) else {}

    async def children(self, room_id: str) -> list[Child]:
        """The valid m.space.child events of a room, in the spec's order."""
        rows = await self.events.current_state_of_type(room_id, "m.space.child")
        loaded = await self.events.get_events(r[1] for r in rows)
        out = []
        for state_key, event_id in rows:
            ev = loaded.get(event_id)
            if ev is None or ev.redacted_by:
                continue
            via = ev.pdu.content.get("via")
            if not isinstance(via, list) or not via or not all(isinstance(v, str) for v in via):
                continue
            out.append(Child(state_key, ev, ev.pdu.content))
        out.sort(key=Child.sort_key)
        return out

    async def may_see(self, user_id: str, room_id: str) -> bool:
        """Whether the room is listed for the user (space_hierarchy.yaml, `rooms`)."""
        if await self.events.room_version(room_id) is None:
            return False
        membership = await self.events.membership(room_id, user_id)
        if membership in ("join", "invite"):
            return True
        if membership == "ban":
            return False
        rule = (await self._content(room_id, "m.room.join_rules")).get("join_rule")
        if rule in ("public", "knock", "knock_restricted"):
            return True
        if rule in ("restricted", "knock_restricted"):
            for allowed in await self._allowed_room_ids(room_id):
                if await self.events.membership(allowed, user_id) == "join":
                    return True
        hv = (await self._content(room_id, "m.room.history_visibility")).get("history_visibility")
        return hv == "world_readable"

    async def _allowed_room_ids(self, room_id: str) -> list[str]:
        allow = (await self._content(room_id, "m.room.join_rules")).get("allow")
        out = []
        if isinstance(allow, list):
            for a in allow:
                if isinstance(a, dict) and a.get("type") == "m.room_membership" and isinstance(a.get("room_id"), str):
                    out.append(a["room_id"])
        return out

    async def summary(self, room_id: str) -> dict[str, Any]:
        joined = await self.events.member_count(room_id, "join")
        chunk = await self.aliases.public_chunk(room_id, joined)
        version = await self.events.room_version(room_id)
        if version is not None:
            chunk["room_version"] = version.id
        algorithm = (await self._content(room_id, "m.room.encryption")).get("algorithm")
        if isinstance(algorithm, str):
            chunk["encryption"] = algorithm
        if chunk.get("join_rule") in ("restricted", "knock_restricted"):
            chunk["allowed_room_ids"] = await self._allowed_room_ids(room_id)
        return chunk

    async def hierarchy(self, user_id: str, room_id: str, *, suggested_only: bool = False,
                        max_depth: int | None = None, limit: int | None = None,
                        from_: str | None = None) -> dict[str, Any]:
        if limit is not None and limit < 1:
            raise InvalidParam("limit must be greater than zero")
        if max_depth is not None and max_depth < 0:
            raise InvalidParam("max_depth must not be negative")
        limit = min(limit or DEFAULT_LIMIT, MAX_LIMIT)
        depth_limit = min(max_depth if max_depth is not None else DEFAULT_MAX_DEPTH, MAX_DEPTH)
        skip = 0
        if from_ is not None:
            m = _TOKEN.fullmatch(from_)
            if m is None:
                raise InvalidParam("Unknown pagination token")
            if (m.group(2) == "1") != suggested_only or int(m.group(3)) != depth_limit:
                raise InvalidParam("suggested_only and max_depth cannot change on paginated requests")
            skip = int(m.group(1))
        if not await self.may_see(user_id, room_id):
            raise Forbidden("You are not allowed to view this room.")

        rooms: list[dict[str, Any]] = []
        done: set[str] = set()
        stack: list[tuple[str, int]] = [(room_id, 0)]
        listed = 0
        more = False
        while stack:
            current, depth = stack.pop()
            if current in done or len(done) >= MAX_ROOMS_WALKED:
                continue
            done.add(current)
            if current != room_id and not await self.may_see(user_id, current):
                continue
            is_space = (await self._content(current, "m.room.create")).get("type") == "m.space"
            children = await self.children(current) if is_space else []
            if suggested_only:  # only suggested rooms are considered, in the tree and in children_state
                children = [c for c in children if c.content.get("suggested") is True]
            listed += 1
            if listed > skip:
                if len(rooms) == limit:
                    more = True
                    break
                entry = await self.summary(current)
                entry["children_state"] = [
                    {"type": "m.space.child", "state_key": c.room_id, "content": c.content,
                     "sender": c.event.pdu.sender, "origin_server_ts": c.event.pdu.origin_server_ts}
                    for c in children]
                rooms.append(entry)
            if depth < depth_limit:
                for c in reversed(children):
                    if c.room_id not in done:
                        stack.append((c.room_id, depth + 1))
        out: dict[str, Any] = {"rooms": rooms}
        if more:
            out["next_batch"] = f"h{skip + len(rooms)}_{int(suggested_only)}_{depth_limit}"
        return out
