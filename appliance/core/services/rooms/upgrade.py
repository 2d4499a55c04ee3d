"""Room upgrades: POST /rooms/{roomId}/upgrade (room_upgrades.md, server behaviour)."""
from __future__ import annotations

from typing import Any

from ...protocol import ids, room_versions
from ...protocol.errors import BadJson, Forbidden, UnsupportedRoomVersion
from ...protocol.power_levels import can_send, creators, get_named_level, normalised_power_levels
from ...storage.stores.events import EventStore
from ...storage.stores.rooms import RoomStore
from ..pipeline import EventPipeline, Persisted
from .create import default_power_levels, send_create
from .lookup import RoomLookup
from .membership import Membership

# State copied into the replacement room on upgrade (room_upgrades.md, server behaviour 3).
UPGRADE_TRANSFERRED_STATE = (
    "m.room.server_acl", "m.room.encryption", "m.room.name", "m.room.avatar", "m.room.topic",
    "m.room.guest_access", "m.room.history_visibility", "m.room.join_rules",
)


class RoomUpgrades:
    def __init__(self, server_name: str, events: EventStore, pipeline: EventPipeline, store: RoomStore,
                 membership: Membership, lookup: RoomLookup):
        self.server_name = server_name
        self.events = events
        self.pipeline = pipeline
        self.store = store
        self.membership = membership
        self.lookup = lookup

    async def upgrade_room(self, room_id: str, user_id: str, new_version: str,
                           additional_creators: list[str] | None = None) -> str:
        """POST /rooms/{roomId}/upgrade; returns the replacement room's ID."""
        version = room_versions.get(new_version)
        if version is None:
            raise UnsupportedRoomVersion(f"Room version {new_version!r} is not supported")
        await self.lookup.version(room_id)
        if await self.events.membership(room_id, user_id) != "join":
            raise Forbidden("You are not in this room")
        pl, create = await self.lookup.power_levels_and_create(room_id)
        # 1. The user must be able to send m.room.tombstone.
        if not can_send(user_id, "m.room.tombstone", "", pl, create):
            raise Forbidden("You cannot upgrade this room")
        extra_creators = list(dict.fromkeys(additional_creators or []))
        if not all(ids.is_valid_user_id(u) for u in extra_creators):
            raise BadJson("additional_creators must be user IDs")

        # 2. The replacement room, with predecessor and the old room's type. Its `event_id` is
        # the tombstone, the old room's last event: sent first, to the room ID chosen for the
        # new room. From v12 the new room's ID is its create event's hash, which the tombstone
        # must name: there the tombstone comes last and `event_id` is left out (m.room.create,
        # "MAY be omitted" since v1.16).
        create_content: dict[str, Any] = {
            "room_version": version.id,
            "predecessor": {"room_id": room_id},
        }
        chosen_id = None
        if not version.event_format.room_id_is_create_hash:
            chosen_id = ids.make_room_id(self.server_name)
            tombstone = await self._tombstone(room_id, user_id, chosen_id)
            create_content["predecessor"]["event_id"] = tombstone
        old_create = create.content if create else {}
        if "type" in old_create:
            create_content["type"] = old_create["type"]
        if "m.federate" in old_create:
            create_content["m.federate"] = old_create["m.federate"]
        new_creators = {user_id}
        if version.auth.privileged_creators:
            extra_creators = [u for u in extra_creators if u != user_id]
            if extra_creators:
                create_content["additional_creators"] = extra_creators
                new_creators.update(extra_creators)
        new_room = await send_create(self.pipeline, self.server_name, user_id, version, create_content, chosen_id)
        await self.membership.send_member(new_room, user_id, user_id, "join")

        # 3. Transferable state; power levels first, raised for the upgrader while copying.
        if pl is not None:
            new_pl = normalised_power_levels(pl)
        else:
            new_pl = default_power_levels(user_id, version, "private_chat", [])
        users: dict[str, int] = dict(new_pl.get("users") or {})
        state_default = new_pl.get("state_default", 50)
        if version.auth.privileged_creators:
            users = {u: lvl for u, lvl in users.items() if u not in new_creators}
            events = dict(new_pl.get("events") or {})
            if events.get("m.room.tombstone", state_default) <= state_default:
                events["m.room.tombstone"] = max(150, state_default + 1)
            new_pl["events"] = events
        elif create is not None and create.room_version.auth.privileged_creators:
            # From v12 down: the old room's creators had infinite power, now they get 100.
            users.update({u: max(users.get(u, 0), 100) for u in creators(create)})
        new_pl["users"] = users
        final_pl = new_pl
        if not version.auth.privileged_creators:
            # The upgrader sends the copied state with enough power, then gets their level back.
            needed = max([100, state_default, *users.values(), *(new_pl.get("events") or {}).values()])
            if users.get(user_id, new_pl.get("users_default", 0)) != needed:
                new_pl = {**new_pl, "users": {**users, user_id: needed}}
        await self._state_event(new_room, user_id, "m.room.power_levels", "", new_pl)
        for type_ in UPGRADE_TRANSFERRED_STATE:
            ev = await self.lookup.state(room_id, type_)
            if ev is not None:
                await self._state_event(new_room, user_id, type_, "", dict(ev.content))

        # Bans carry over; pending invites are sent again.
        for banned in await self.events.members(room_id, "ban"):
            await self.membership.send_member(new_room, user_id, banned, "ban")
        for invited in await self.events.members(room_id, "invite"):
            if invited not in new_creators:
                await self.membership.send_member(new_room, user_id, invited, "invite")

        # 4. Local aliases move; the canonical alias goes with them.
        await self.store.move_aliases(room_id, new_room)
        canonical = await self.lookup.state(room_id, "m.room.canonical_alias")
        if canonical is not None and canonical.content:
            await self._state_event(new_room, user_id, "m.room.canonical_alias", "", dict(canonical.content))
            try:
                await self._state_event(room_id, user_id, "m.room.canonical_alias", "", {})
            except Forbidden:
                pass
        if new_pl is not final_pl:
            await self._state_event(new_room, user_id, "m.room.power_levels", "", final_pl)
        if await self.store.is_public(room_id):
            await self.store.set_public(new_room, True)
            await self.store.set_public(room_id, False)

        # 5. The tombstone (v12 and later: now that the new room's ID is known).
        if chosen_id is None:
            await self._tombstone(room_id, user_id, new_room)
        # 6. Restrict the old room: events_default and invite to max(50, users_default + 1).
        if pl is not None and can_send(user_id, "m.room.power_levels", "", pl, create):
            users_default = get_named_level(pl, "users_default")
            restricted = max(50, users_default + 1)
            old = dict(pl.content)
            if get_named_level(pl, "events_default") < restricted or get_named_level(pl, "invite") < restricted:
                old["events_default"] = max(get_named_level(pl, "events_default"), restricted)
                old["invite"] = max(get_named_level(pl, "invite"), restricted)
                try:
                    await self._state_event(room_id, user_id, "m.room.power_levels", "", old)
                except Forbidden:
                    pass
        return new_room

    async def _tombstone(self, room_id: str, sender: str, replacement: str) -> str:
        persisted = await self._state_event(room_id, sender, "m.room.tombstone", "",
                                            {"body": "This room has been replaced", "replacement_room": replacement})
        return persisted.pdu.event_id

    async def _state_event(self, room_id: str, sender: str, type_: str, state_key: str,
                           content: dict[str, Any]) -> Persisted:
        return await self.pipeline.create_event(room_id, sender, type_, content, state_key=state_key)
