"""Current-state lookups shared by the room services."""
from __future__ import annotations

from ...protocol import ids
from ...protocol.errors import NotFound
from ...protocol.events import Pdu
from ...protocol.room_versions import RoomVersion
from ...storage.stores.events import EventStore

IN_ROOM = ("join", "invite", "knock")


def is_local(user_id: str, server_name: str) -> bool:
    try:
        return ids.parse_user_id(user_id)[1] == server_name
    except ValueError:
        return False


class RoomLookup:
    def __init__(self, events: EventStore):
        self.events = events

    async def version(self, room_id: str) -> RoomVersion:
        """The room's version; M_NOT_FOUND for a room we do not hold."""
        version = await self.events.room_version(room_id)
        if version is None:
            raise NotFound("Unknown room")
        return version

    async def state(self, room_id: str, type_: str, state_key: str = "") -> Pdu | None:
        return await self.events.current_state_event(room_id, type_, state_key)

    async def power_levels_and_create(self, room_id: str) -> tuple[Pdu | None, Pdu | None]:
        return await self.state(room_id, "m.room.power_levels"), await self.state(room_id, "m.room.create")
