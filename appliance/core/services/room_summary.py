"""Room summary (room_summary.yaml, MSC3266, spec v1.15): what a client shows before joining.

GET /_matrix/client/v1/room_summary/{roomIdOrAlias} answers the space-hierarchy entry of a
room (public_rooms_chunk + room_type, encryption, room_version, allowed_room_ids) and, for an
authenticated caller, their membership. Who may see it follows the rules the spec gives for
`/hierarchy` entries and for unauthenticated summaries:

- anyone (also without a token): join rule `public`, `knock` or `knock_restricted`, or history
  visibility `world_readable`;
- a signed-in user, also: membership `join`, `invite` or `knock`; a `restricted` /
  `knock_restricted` room whose allowed rooms the user has joined.

Anything else answers 404 M_NOT_FOUND, the same as a room that does not exist (the spec gives
no other error, and a 403 would tell a stranger that a private room exists). Rooms this
server is not in would need federation (`via`), which Hearth does not speak yet: 404.
"""
from __future__ import annotations

from typing import Any

from ..protocol.errors import NotFound
from ..storage.stores.events import EventStore
from .rooms.aliases import RoomAliases
from .spaces import SpaceHierarchyService

OPEN_JOIN_RULES = ("public", "knock", "knock_restricted")
MEMBERSHIPS_THAT_SEE = ("join", "invite", "knock")


class RoomSummaryService:
    def __init__(self, aliases: RoomAliases, spaces: SpaceHierarchyService, events: EventStore):
        self.aliases = aliases
        self.spaces = spaces
        self.events = events

    async def summary(self, user_id: str | None, room_id_or_alias: str) -> dict[str, Any]:
        """The summary, with `membership` when `user_id` is given; NotFound when hidden."""
        room_id = await self.aliases.resolve_room(room_id_or_alias)  # NotFound for an unknown room
        summary = await self.spaces.summary(room_id)
        membership = await self.events.membership(room_id, user_id) if user_id is not None else None
        if not await self._may_see(user_id, membership, summary):
            raise NotFound("Room not found.")
        if user_id is not None:
            summary["membership"] = membership or "leave"
        return summary

    async def _may_see(self, user_id: str | None, membership: str | None, summary: dict[str, Any]) -> bool:
        join_rule = summary.get("join_rule", "invite")  # absent m.room.join_rules: invite
        if join_rule in OPEN_JOIN_RULES or summary.get("world_readable") is True:
            return True
        if user_id is None:
            return False
        if membership in MEMBERSHIPS_THAT_SEE:
            return True
        if join_rule in ("restricted", "knock_restricted"):
            for allowed in summary.get("allowed_room_ids", []):
                if await self.events.membership(allowed, user_id) == "join":
                    return True
        return False
