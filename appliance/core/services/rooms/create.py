"""Creating rooms: POST /createRoom (create_room.yaml), the events in the spec's order."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ...protocol import ids, room_versions
from ...protocol.errors import BadJson, Forbidden, InviteBlocked, InvalidParam, InvalidRoomState, MatrixError, RoomInUse, UnsupportedRoomVersion
from ...protocol.room_versions import RoomVersion
from ...protocol.topics import topic_content
from ...storage.stores.rooms import AliasTaken, RoomStore
from ..pipeline import EventPipeline, Persisted
from .aliases import local_alias
from .membership import Membership

PRESETS = {
    #  preset:                (join_rule, history_visibility, guest_access, invite level)
    "private_chat": ("invite", "shared", "can_join", 0),
    "trusted_private_chat": ("invite", "shared", "can_join", 0),
    "public_chat": ("public", "shared", "forbidden", 50),
}


@dataclass
class InitialStateEvent:
    type: str
    content: dict[str, Any]
    state_key: str = ""


@dataclass
class CreateRoomRequest:
    """The body of POST /createRoom, already checked for shape by the API layer."""

    visibility: str | None = None
    room_alias_name: str | None = None
    name: str | None = None
    topic: str | None = None
    invite: list[str] = field(default_factory=list)
    invite_3pid: list[dict[str, Any]] = field(default_factory=list)
    room_version: str | None = None
    creation_content: dict[str, Any] | None = None
    initial_state: list[InitialStateEvent] = field(default_factory=list)
    preset: str | None = None
    is_direct: bool = False
    power_level_content_override: dict[str, Any] | None = None


async def send_create(pipeline: EventPipeline, server_name: str, creator: str, version: RoomVersion,
                      content: dict[str, Any], room_id: str | None = None) -> str:
    """Send a new room's m.room.create; returns the room ID (from v12, the event's hash;
    before, `room_id` if the caller chose it already, else a new one)."""
    if version.event_format.room_id_is_create_hash:
        persisted = await pipeline.create_event(None, creator, "m.room.create", content,
                                                state_key="", version=version)
        return persisted.pdu.room_id
    room_id = room_id or ids.make_room_id(server_name)
    await pipeline.create_event(room_id, creator, "m.room.create", content, state_key="", version=version)
    return room_id


def default_power_levels(creator: str, version: RoomVersion, preset: str,
invitees: list[str]) -> dict[str, Any]:
    privileged = version.auth.privileged_creators
    users: dict[str, int] = {}
    if not privileged:  # v12 creators have infinite power and are not listed
        users[creator] = 100
        if preset == "trusted_private_chat":
            users.update({u: 100 for u in invitees})
    return {
        "users": users,
        "users_default": 0,
        "events": {
            "m.room.name": 50,
            "m.room.power_levels": 100,
            "m.room.history_visibility": 100,
            "m.room.canonical_alias": 50,
            "m.room.avatar": 50,
            # v12: explicitly above state_default and every PL-100 admin (create_room.yaml).
            "m.room.tombstone": 150 if privileged else 100,
            "m.room.server_acl": 100,
            "m.room.encryption": 100,
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": PRESETS[preset][3],
        "notifications": {"room": 50},
    }


class RoomCreation:
    def __init__(self, settings, pipeline: EventPipeline, store: RoomStore, membership: Membership):
        self.settings = settings
        self.server_name: str = settings.server_name
        self.pipeline = pipeline
        self.store = store
        self.membership = membership

    async def create_room(self, creator: str, request: CreateRoomRequest, *, appservice_id: str | None = None,
                          on_created: Callable[[str, list[str]], Awaitable[None]] | None = None) -> str:
        """POST /createRoom: the events in the spec's order; returns the room ID. `appservice_id`:
        the appservice creating it (its alias must be in its namespace). `on_created`: run with
        the room ID and the people invited, once every event is in, before a blocked invite's
        error is raised."""
        version_id = request.room_version or self.settings.default_room_version
        version = room_versions.get(version_id)
        if version is None:
            raise UnsupportedRoomVersion(f"Room version {version_id!r} is not supported")
        preset = request.preset or ("public_chat" if request.visibility == "public" else "private_chat")
        if preset not in PRESETS:
            raise InvalidParam(f"Unknown preset {preset!r}")
        if request.invite_3pid:
            raise MatrixError("Third-party invites need an identity server, which this server does not use",
                              errcode="M_UNRECOGNIZED", status=400)
        invitees = list(dict.fromkeys(request.invite))
        for user_id in invitees:
            if not ids.is_valid_user_id(user_id):
                raise InvalidParam(f"Not a user ID: {user_id!r}")
        if creator in invitees:
            raise InvalidParam("You cannot invite yourself")
        alias = None
        if request.room_alias_name is not None:
            alias = local_alias(request.room_alias_name, self.server_name)
            self.membership.aliases.check_alias_allowed(alias, appservice_id)
            if await self.store.get_alias(alias) is not None:
                raise RoomInUse("Room alias already taken")
        initial: dict[tuple[str, str], dict[str, Any]] = {}
        for ev in request.initial_state:
            initial[(ev.type, ev.state_key)] = ev.content
        if request.power_level_content_override is not None and ("m.room.power_levels", "") in initial:
            raise InvalidParam("Give power_level_content_override or an m.room.power_levels initial state, not both")

        create_content = dict(request.creation_content or {})
        create_content.pop("creator", None)
        create_content["room_version"] = version.id
        if version.auth.privileged_creators:
            extra = create_content.get("additional_creators", [])
            if not isinstance(extra, list) or not all(isinstance(u, str) and ids.is_valid_user_id(u) for u in extra):
                # The create event would fail its auth rule (v12 1.4): a malformed body.
                raise BadJson("creation_content.additional_creators must be a list of user IDs")
            if preset == "trusted_private_chat":
                extra = extra + invitees
            extra = [u for u in dict.fromkeys(extra) if u != creator]
            if extra:
                create_content["additional_creators"] = extra
            else:
                create_content.pop("additional_creators", None)

        room_id = await send_create(self.pipeline, self.server_name, creator, version, create_content)
        if alias is not None:
            try:
                await self.store.add_alias(alias, room_id, creator)
            except AliasTaken:
                raise RoomInUse("Room alias already taken") from None
        try:
            # 2. The creator joins.
            await self.membership.send_member(room_id, creator, creator, "join")
            # 3. Power levels.
            pl = initial.pop(("m.room.power_levels", ""), None)
            if pl is None:
                pl = default_power_levels(creator, version, preset, invitees)
                pl.update(request.power_level_content_override or {})
            await self._state_event(room_id, creator, "m.room.power_levels", "", pl)
            # 4. The canonical alias.
            if alias is not None:
                await self._state_event(room_id, creator, "m.room.canonical_alias", "", {"alias": alias})
            # 5. The preset's state, where initial_state does not set it.
            join_rule, history, guest, _ = PRESETS[preset]
            for type_, content in (("m.room.join_rules", {"join_rule": join_rule}),
                                   ("m.room.history_visibility", {"history_visibility": history}),
                                   ("m.room.guest_access", {"guest_access": guest})):
                if (type_, "") not in initial:
                    await self._state_event(room_id, creator, type_, "", content)
            # 6. initial_state, in order; name and topic below win over it.
            if request.name is not None:
                initial.pop(("m.room.name", ""), None)
            if request.topic is not None:
                initial.pop(("m.room.topic", ""), None)
            for (type_, state_key), content in initial.items():
                await self._state_event(room_id, creator, type_, state_key, content)
            # 7. Name and topic.
            if request.name is not None:
                await self._state_event(room_id, creator, "m.room.name", "", {"name": request.name})
            if request.topic is not None:
                await self._state_event(room_id, creator, "m.room.topic", "", topic_content(request.topic))
        except Forbidden as exc:
            if alias is not None:  # the room is unusable; do not leave a name pointing at it
                await self.store.delete_alias(alias)
            raise InvalidRoomState(exc.error) from None
        # 8. Invites; an invitee who blocks invites is skipped, and the answer is their 403 once
        # the room is made (invite_permission.md: the creation as a whole succeeds).
        blocked: InviteBlocked | None = None
        invited: list[str] = []
        for user_id in invitees:
            try:
                await self.membership.invite_permission.check(user_id)
            except InviteBlocked as exc:
                blocked = blocked or exc
                continue
            await self.membership.send_member(room_id, creator, user_id, "invite", is_direct=request.is_direct)
            invited.append(user_id)
        if request.visibility == "public":
            await self.store.set_public(room_id, True)
        if on_created is not None:  # the API's part once the room is made (invites over federation)
            await on_created(room_id, invited)
        if blocked is not None:
            raise blocked
        return room_id

    async def _state_event(self, room_id: str, sender: str, type_: str, state_key: str,
                           content: dict[str, Any]) -> Persisted:
        return await self.pipeline.create_event(room_id, sender, type_, content, state_key=state_key)
