"""Rooms, the writing side: creation, membership, sending, redaction, upgrades, aliases and
the published room directory (client-server-api "Rooms", create_room, joining, inviting,
leaving, kicking, banning, knocking, room_send, room_state, redaction, room_upgrades,
directory, list_public_rooms).

Every event goes through the pipeline, which runs the auth rules; the checks here exist to
give the spec's error for the common cases (banned, not invited, unknown room) before
building an event, and for the rules that are not auth rules (guest access, aliases,
redacting others' events, transaction IDs).
"""
from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..protocol import ids, room_versions
from ..protocol.errors import (
    BadAlias,
    BadJson,
    Forbidden,
    GuestAccessForbidden,
    InvalidParam,
    InvalidRoomState,
    MatrixError,
    NotFound,
    RoomInUse,
    UnsupportedRoomVersion,
)
from ..protocol.events import Pdu
from ..protocol.power_levels import (
    NAMED_LEVEL_DEFAULTS,
    can_redact,
    can_send,
    creators,
    get_named_level,
    get_user_power_level,
    parse_level,
)
from ..protocol.redaction import redact as redact_event_dict
from ..protocol.room_versions import RoomVersion
from ..storage.database import Database
from ..storage.stores.accounts import AccountStore
from ..storage.stores.events import EventStore
from ..storage.stores.rooms import AliasTaken, RoomStore
from .pipeline import EventPipeline, Persisted

# Refuses a join, invite or knock by raising: check(room_id, user_id, membership).
MembershipCheck = Callable[[str, str, str], Awaitable[None]]

PRESETS = {
    #  preset:                (join_rule, history_visibility, guest_access, invite level)
    "private_chat": ("invite", "shared", "can_join", 0),
    "trusted_private_chat": ("invite", "shared", "can_join", 0),
    "public_chat": ("public", "shared", "forbidden", 50),
}

# State copied into the replacement room on upgrade (room_upgrades.md, server behaviour 3).
UPGRADE_TRANSFERRED_STATE = (
    "m.room.server_acl", "m.room.encryption", "m.room.name", "m.room.avatar", "m.room.topic",
    "m.room.guest_access", "m.room.history_visibility", "m.room.join_rules",
)

_TOKEN = re.compile(r"o([0-9]{1,9})")
IN_ROOM = ("join", "invite", "knock")


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


@dataclass(frozen=True, slots=True)
class PublicRoomsPage:
    chunk: list[dict[str, Any]]
    next_batch: str | None
    prev_batch: str | None
    total_room_count_estimate: int

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"chunk": self.chunk, "total_room_count_estimate": self.total_room_count_estimate}
        if self.next_batch is not None:
            out["next_batch"] = self.next_batch
        if self.prev_batch is not None:
            out["prev_batch"] = self.prev_batch
        return out


class RoomService:
    def __init__(self, settings, db: Database, events: EventStore, pipeline: EventPipeline,
                 accounts: AccountStore, membership_check: MembershipCheck):
        self.settings = settings
        self.server_name: str = settings.server_name
        self.events = events
        self.pipeline = pipeline
        self.accounts = accounts
        self.store = RoomStore(db)
        self._txn_locks: dict[str, list] = {}  # txn key → [lock, users]
        # Run before a join, invite or knock: check(room_id, user_id, membership) raises to
        # refuse it (the admin service refuses blocked rooms).
        self.membership_check = membership_check

    # -- lookups ----------------------------------------------------------------------------

    async def room_version(self, room_id: str) -> RoomVersion:
        version = await self.events.room_version(room_id)
        if version is None:
            raise NotFound("Unknown room")
        return version

    async def resolve_room(self, room_id_or_alias: str) -> str:
        """A room ID, from itself or from one of our aliases."""
        if room_id_or_alias.startswith("#"):
            room_id, _ = await self.resolve_alias(room_id_or_alias)
            return room_id
        if not ids.is_valid_room_id(room_id_or_alias):
            raise InvalidParam("Not a room ID or alias")
        await self.room_version(room_id_or_alias)
        return room_id_or_alias

    async def _state(self, room_id: str, type_: str, state_key: str = "") -> Pdu | None:
        return await self.events.current_state_event(room_id, type_, state_key)

    async def _pl_and_create(self, room_id: str) -> tuple[Pdu | None, Pdu | None]:
        return await self._state(room_id, "m.room.power_levels"), await self._state(room_id, "m.room.create")

    async def _member_content(self, user_id: str, membership: str, reason: str | None) -> dict[str, Any]:
        """A membership event's content with the user's profile (joins, invites, knocks)."""
        content: dict[str, Any] = {"membership": membership}
        if membership in IN_ROOM and self._is_local(user_id):
            user = await self.accounts.get_user(user_id)
            if user is not None:
                if user.displayname is not None:
                    content["displayname"] = user.displayname
                if user.avatar_url is not None:
                    content["avatar_url"] = user.avatar_url
        if reason is not None:
            content["reason"] = reason
        return content

    async def _check_membership(self, room_id: str, user_id: str, membership: str) -> None:
        await self.membership_check(room_id, user_id, membership)

    def _is_local(self, user_id: str) -> bool:
        try:
            return ids.parse_user_id(user_id)[1] == self.server_name
        except ValueError:
            return False

    async def _send_member(self, room_id: str, sender: str, target: str, content: dict[str, Any]) -> str:
        persisted = await self.pipeline.create_event(room_id, sender, "m.room.member", content, state_key=target)
        return persisted.pdu.event_id

    # -- creation ---------------------------------------------------------------------------

    async def create_room(self, creator: str, request: CreateRoomRequest) -> str:
        """POST /createRoom: the events in the spec's order; returns the room ID."""
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
            alias = self._local_alias(request.room_alias_name)
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
                raise InvalidParam("additional_creators must be a list of user IDs")
            if preset == "trusted_private_chat":
                extra = extra + invitees
            extra = [u for u in dict.fromkeys(extra) if u != creator]
            if extra:
                create_content["additional_creators"] = extra
            else:
                create_content.pop("additional_creators", None)

        room_id = await self._send_create(creator, version, create_content)
        if alias is not None:
            try:
                await self.store.add_alias(alias, room_id, creator)
            except AliasTaken:
                raise RoomInUse("Room alias already taken") from None
        try:
            # 2. The creator joins.
            await self._send_member(room_id, creator, creator, await self._member_content(creator, "join", None))
            # 3. Power levels.
            pl = initial.pop(("m.room.power_levels", ""), None)
            if pl is None:
                pl = self._default_power_levels(creator, version, preset, invitees)
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
        # 8. Invites.
        for user_id in invitees:
            content = await self._member_content(user_id, "invite", None)
            if request.is_direct:
                content["is_direct"] = True
            await self._send_member(room_id, creator, user_id, content)
        if request.visibility == "public":
            await self.store.set_public(room_id, True)
        return room_id

    async def _send_create(self, creator: str, version: RoomVersion, content: dict[str, Any]) -> str:
        if version.event_format.room_id_is_create_hash:
            persisted = await self.pipeline.create_event(None, creator, "m.room.create", content,
                                                         state_key="", version=version)
            return persisted.pdu.room_id
        room_id = ids.make_room_id(self.server_name)
        await self.pipeline.create_event(room_id, creator, "m.room.create", content, state_key="", version=version)
        return room_id

    async def _state_event(self, room_id: str, sender: str, type_: str, state_key: str,
                           content: dict[str, Any]) -> Persisted:
        return await self.pipeline.create_event(room_id, sender, type_, content, state_key=state_key)

    @staticmethod
    def _default_power_levels(creator: str, version: RoomVersion, preset: str,
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

    # -- membership -------------------------------------------------------------------------

    async def join(self, user_id: str, room_id_or_alias: str, *, reason: str | None = None,
                   is_guest: bool = False) -> str:
        """POST /join/{roomIdOrAlias} and /rooms/{roomId}/join; returns the room ID."""
        if room_id_or_alias.startswith("!"):  # a blocked room may be unknown here, or purged
            await self._check_membership(room_id_or_alias, user_id, "join")
        room_id = await self.resolve_room(room_id_or_alias)
        await self._check_membership(room_id, user_id, "join")
        version = await self.room_version(room_id)
        current = await self.events.membership(room_id, user_id)
        if current == "join":
            return room_id
        if current == "ban":
            raise Forbidden("You are banned from this room")
        if is_guest:
            guest = await self._state(room_id, "m.room.guest_access")
            if guest is None or guest.content.get("guest_access") != "can_join":
                raise GuestAccessForbidden("Guests may not join this room")
        content = await self._member_content(user_id, "join", reason)
        rules = await self._state(room_id, "m.room.join_rules")
        join_rule = rules.content.get("join_rule") if rules else None
        if current != "invite":
            if join_rule in ("invite", "knock"):
                raise Forbidden("You are not invited to this room.")
            restricted = (join_rule == "restricted" and version.auth.restricted_join) or (
                join_rule == "knock_restricted" and version.auth.knock_restricted_join)
            if restricted:
                authoriser = await self._restricted_join_authoriser(room_id, user_id, rules)
                if authoriser is None:
                    raise Forbidden("You do not meet the conditions to join this room.")
                content["join_authorised_via_users_server"] = authoriser
        await self._send_member(room_id, user_id, user_id, content)
        return room_id

    async def _restricted_join_authoriser(self, room_id: str, user_id: str, rules: Pdu) -> str | None:
        """A joined local member who may invite, if the user meets an allow condition."""
        allow = rules.content.get("allow")
        allowed = False
        for cond in allow if isinstance(allow, list) else []:
            if (isinstance(cond, dict) and cond.get("type") == "m.room_membership"
                    and isinstance(cond.get("room_id"), str)
                    and await self.events.membership(cond["room_id"], user_id) == "join"):
                allowed = True
                break
        if not allowed:
            return None
        pl, create = await self._pl_and_create(room_id)
        needed = get_named_level(pl, "invite")
        best: tuple[float, str] | None = None
        for member in await self.events.members(room_id, "join"):
            if not self._is_local(member):
                continue
            level = get_user_power_level(member, pl, create)
            if level >= needed and (best is None or level > best[0]):
                best = (level, member)
        return best[1] if best else None

    async def invite(self, room_id: str, inviter: str, invitee: str, *, reason: str | None = None,
                     is_direct: bool = False) -> None:
        """POST /rooms/{roomId}/invite. Inviting someone already invited succeeds."""
        if not ids.is_valid_user_id(invitee):
            raise InvalidParam("Not a user ID")
        await self.room_version(room_id)
        await self._check_membership(room_id, invitee, "invite")
        if await self.events.membership(room_id, inviter) != "join":
            raise Forbidden("You are not in this room")
        current = await self.events.membership(room_id, invitee)
        if current == "invite":
            return
        if current == "join":
            raise Forbidden(f"{invitee} is already in the room")
        if current == "ban":
            raise Forbidden(f"{invitee} is banned from the room")
        if self._is_local(invitee) and not await self.accounts.user_exists(invitee):
            raise Forbidden(f"{invitee} does not exist")
        content = await self._member_content(invitee, "invite", reason)
        if is_direct:
            content["is_direct"] = True
        await self._send_member(room_id, inviter, invitee, content)

    async def leave(self, room_id: str, user_id: str, *, reason: str | None = None) -> None:
        """POST /rooms/{roomId}/leave: leave, reject an invite or retract a knock."""
        await self.room_version(room_id)
        current = await self.events.membership(room_id, user_id)
        if current == "leave":
            return
        if current == "ban":
            raise Forbidden("You are banned from this room")
        if current not in IN_ROOM:
            raise Forbidden("You are not in this room")
        await self._send_member(room_id, user_id, user_id, await self._member_content(user_id, "leave", reason))

    async def forget(self, room_id: str, user_id: str) -> None:
        """POST /rooms/{roomId}/forget: only once the user has left (or was kicked or banned)."""
        await self.room_version(room_id)
        record = await self.store.membership_record(user_id, room_id)
        if record is not None and record[0] in IN_ROOM:
            raise MatrixError(f"User {user_id} is in room {room_id}", errcode="M_UNKNOWN", status=400)
        if record is not None:
            await self.store.forget(user_id, room_id)

    async def kick(self, room_id: str, sender: str, target: str, *, reason: str | None = None) -> None:
        await self.room_version(room_id)
        if await self.events.membership(room_id, target) not in IN_ROOM:
            raise Forbidden(f"{target} is not in the room")
        await self._send_member(room_id, sender, target, await self._member_content(target, "leave", reason))

    async def ban(self, room_id: str, sender: str, target: str, *, reason: str | None = None) -> None:
        if not ids.is_valid_user_id(target):
            raise InvalidParam("Not a user ID")
        await self.room_version(room_id)
        await self._send_member(room_id, sender, target, await self._member_content(target, "ban", reason))

    async def unban(self, room_id: str, sender: str, target: str, *, reason: str | None = None) -> None:
        await self.room_version(room_id)
        if await self.events.membership(room_id, target) != "ban":
            raise Forbidden(f"{target} is not banned")
        await self._send_member(room_id, sender, target, await self._member_content(target, "leave", reason))

    async def knock(self, user_id: str, room_id_or_alias: str, *, reason: str | None = None) -> str:
        """POST /knock/{roomIdOrAlias}; returns the room ID."""
        room_id = await self.resolve_room(room_id_or_alias)
        await self._check_membership(room_id, user_id, "knock")
        version = await self.room_version(room_id)
        if not version.auth.knocking:
            raise Forbidden(f"Room version {version.id} does not support knocking")
        current = await self.events.membership(room_id, user_id)
        if current in ("join", "invite", "ban"):
            raise Forbidden({"join": "You are already in the room", "invite": "You are already invited",
                             "ban": "You are banned from this room"}[current])
        rules = await self._state(room_id, "m.room.join_rules")
        join_rule = rules.content.get("join_rule") if rules else None
        if join_rule != "knock" and not (join_rule == "knock_restricted" and version.auth.knock_restricted_join):
            raise Forbidden("You are not allowed to knock on this room.")
        await self._send_member(room_id, user_id, user_id, await self._member_content(user_id, "knock", reason))
        return room_id

    # -- sending ----------------------------------------------------------------------------

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
                           txn_id: str | None, device_id: str | None) -> str:
        """PUT /rooms/{roomId}/send/{eventType}/{txnId}; the same transaction gives the same ID."""
        version = await self.room_version(room_id)
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
        txn_key = f"{sender}|{device_id}|{txn_id}" if txn_id is not None else None

        def matches(pdu: Pdu) -> bool:
            return pdu.room_id == room_id and pdu.type == event_type and not pdu.is_state

        async def send(key: str | None) -> str:
            p = await self.pipeline.create_event(room_id, sender, event_type, content, txn_key=key, extra=extra)
            return p.pdu.event_id

        return await self._send_once(txn_key, matches, send)

    async def set_state(self, room_id: str, sender: str, event_type: str, state_key: str,
                        content: dict[str, Any]) -> str:
        """PUT /rooms/{roomId}/state/{eventType}/{stateKey}; returns the event ID."""
        await self.room_version(room_id)
        if event_type == "m.room.canonical_alias":
            await self._check_canonical_alias(room_id, content)
        persisted = await self._state_event(room_id, sender, event_type, state_key, content)
        return persisted.pdu.event_id

    async def _check_canonical_alias(self, room_id: str, content: dict[str, Any]) -> None:
        """room_state.yaml: new aliases must be valid and point to this room."""
        alias = content.get("alias")
        alt = content.get("alt_aliases", [])
        if alias is not None and not isinstance(alias, str):
            raise InvalidParam("alias must be a string")
        if not isinstance(alt, list) or not all(isinstance(a, str) for a in alt):
            raise InvalidParam("alt_aliases must be a list of strings")
        old = await self._state(room_id, "m.room.canonical_alias")
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
        version = await self.room_version(room_id)
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
        pl, create = await self._pl_and_create(room_id)
        if not can_redact(sender, target.pdu.sender, pl, create):
            raise Forbidden("You cannot redact other people's events")

    # -- upgrades ---------------------------------------------------------------------------

    async def upgrade_room(self, room_id: str, user_id: str, new_version: str,
                           additional_creators: list[str] | None = None) -> str:
        """POST /rooms/{roomId}/upgrade; returns the replacement room's ID."""
        version = room_versions.get(new_version)
        if version is None:
            raise UnsupportedRoomVersion(f"Room version {new_version!r} is not supported")
        await self.room_version(room_id)
        if await self.events.membership(room_id, user_id) != "join":
            raise Forbidden("You are not in this room")
        pl, create = await self._pl_and_create(room_id)
        # 1. The user must be able to send m.room.tombstone.
        if not can_send(user_id, "m.room.tombstone", "", pl, create):
            raise Forbidden("You cannot upgrade this room")
        extra_creators = list(dict.fromkeys(additional_creators or []))
        if not all(ids.is_valid_user_id(u) for u in extra_creators):
            raise InvalidParam("additional_creators must be user IDs")

        # 2. The replacement room, with predecessor and the old room's type.
        create_content: dict[str, Any] = {
            "room_version": version.id,
            "predecessor": {"room_id": room_id},
        }
        last = await self.store.last_event_id(room_id)
        if last is not None:
            create_content["predecessor"]["event_id"] = last
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
        new_room = await self._send_create(user_id, version, create_content)
        await self._send_member(new_room, user_id, user_id, await self._member_content(user_id, "join", None))

        # 3. Transferable state; power levels first, raised for the upgrader while copying.
        if pl is not None:
            new_pl = normalised_power_levels(pl)
        else:
            new_pl = self._default_power_levels(user_id, version, "private_chat", [])
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
            ev = await self._state(room_id, type_)
            if ev is not None:
                await self._state_event(new_room, user_id, type_, "", dict(ev.content))

        # Bans carry over; pending invites are sent again.
        for banned in await self.events.members(room_id, "ban"):
            await self._send_member(new_room, user_id, banned, {"membership": "ban"})
        for invited in await self.events.members(room_id, "invite"):
            if invited not in new_creators:
                await self._send_member(new_room, user_id, invited, await self._member_content(invited, "invite", None))

        # 4. Local aliases move; the canonical alias goes with them.
        await self.store.move_aliases(room_id, new_room)
        canonical = await self._state(room_id, "m.room.canonical_alias")
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

        # 5. The tombstone.
        await self._state_event(room_id, user_id, "m.room.tombstone", "",
                                {"body": "This room has been replaced", "replacement_room": new_room})
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

    # -- aliases ----------------------------------------------------------------------------

    def _local_alias(self, localpart: str) -> str:
        if not localpart or ":" in localpart or any(c.isspace() for c in localpart):
            raise InvalidParam("Invalid room alias localpart")
        alias = f"#{localpart}:{self.server_name}"
        if not ids.is_valid_room_alias(alias):
            raise InvalidParam("Room alias is too long")
        return alias

    def _check_alias(self, alias: str) -> None:
        if not ids.is_valid_room_alias(alias):
            raise InvalidParam("Room alias invalid")

    async def resolve_alias(self, alias: str) -> tuple[str, list[str]]:
        """GET /directory/room/{roomAlias}: (room ID, servers that know the room)."""
        self._check_alias(alias)
        found = await self.store.get_alias(alias)
        if found is None:
            raise NotFound(f"Room alias {alias} not found.")
        servers = [self.server_name]
        for member in await self.events.members(found.room_id, "join"):
            try:
                server = ids.server_name_of(member)
            except ValueError:
                continue
            if server not in servers:
                servers.append(server)
        return found.room_id, servers

    async def set_alias(self, alias: str, room_id: str, user_id: str, *, admin: bool = False) -> None:
        """PUT /directory/room/{roomAlias}: our own aliases only, by members of the room."""
        self._check_alias(alias)
        if ids.server_name_of(alias) != self.server_name:
            raise InvalidParam("Room aliases must be on this server")
        await self.room_version(room_id)
        if not admin and await self.events.membership(room_id, user_id) != "join":
            raise Forbidden("You are not in this room")
        try:
            await self.store.add_alias(alias, room_id, user_id)
        except AliasTaken:
            raise MatrixError(f"Room alias {alias} already exists.", status=409, errcode="M_UNKNOWN") from None

    async def delete_alias(self, alias: str, user_id: str, *, admin: bool = False) -> None:
        """DELETE /directory/room/{roomAlias}: by its creator, an admin, or someone who may
        change the room's m.room.canonical_alias. The alias also leaves the canonical alias."""
        self._check_alias(alias)
        found = await self.store.get_alias(alias)
        if found is None:
            raise NotFound(f"Room alias {alias} not found.")
        if not admin and found.creator != user_id:
            pl, create = await self._pl_and_create(found.room_id)
            if (await self.events.membership(found.room_id, user_id) != "join"
                    or not can_send(user_id, "m.room.canonical_alias", "", pl, create)):
                raise Forbidden("You may not delete this alias")
        await self.store.delete_alias(alias)
        canonical = await self._state(found.room_id, "m.room.canonical_alias")
        if canonical is None:
            return
        content = dict(canonical.content)
        changed = False
        if content.get("alias") == alias:
            del content["alias"]
            changed = True
        alt = content.get("alt_aliases")
        if isinstance(alt, list) and alias in alt:
            content["alt_aliases"] = [a for a in alt if a != alias]
            changed = True
        if changed:
            try:
                await self._state_event(found.room_id, user_id, "m.room.canonical_alias", "", content)
            except Forbidden:
                pass  # directory.yaml: the alias is deleted even if the event cannot be sent

    async def local_aliases(self, room_id: str, user_id: str, *, admin: bool = False) -> list[str]:
        """GET /rooms/{roomId}/aliases: for members, or anyone if the room is world-readable."""
        if not ids.is_valid_room_id(room_id):
            raise InvalidParam("Not a room ID")
        if await self.events.room_version(room_id) is None:
            raise Forbidden("You are not a member of the room.")
        if not admin and await self.events.membership(room_id, user_id) != "join":
            hv = await self._state(room_id, "m.room.history_visibility")
            if hv is None or hv.content.get("history_visibility") != "world_readable":
                raise Forbidden("You are not a member of the room.")
        return await self.store.aliases_of(room_id)

    # -- published room directory -----------------------------------------------------------

    async def get_visibility(self, room_id: str) -> str:
        public = await self.store.is_public(room_id)
        if public is None:
            raise NotFound("Room not found")
        return "public" if public else "private"

    async def set_visibility(self, room_id: str, user_id: str, visibility: str, *, admin: bool = False) -> None:
        """PUT /directory/list/room/{roomId}: members who may set the canonical alias, or admins."""
        if await self.store.is_public(room_id) is None:
            raise NotFound("Room not found")
        if not admin:
            pl, create = await self._pl_and_create(room_id)
            if (await self.events.membership(room_id, user_id) != "join"
                    or not can_send(user_id, "m.room.canonical_alias", "", pl, create)):
                raise Forbidden("You may not change this room's visibility in the directory")
        await self.store.set_public(room_id, visibility == "public")

    async def public_rooms(self, *, limit: int | None = None, since: str | None = None,
                           search_term: str | None = None, room_types: list[str | None] | None = None,
                           server: str | None = None) -> PublicRoomsPage:
        """GET/POST /publicRooms: largest rooms first; tokens are offsets into the filtered list."""
        if server is not None and server != self.server_name:
            raise NotFound(f"Cannot list the rooms of {server}: this server does not federate yet")
        if limit is not None and limit < 0:
            raise InvalidParam("limit must not be negative")
        offset = 0
        if since is not None:
            m = _TOKEN.fullmatch(since)
            if m is None:
                raise InvalidParam("Unknown pagination token")
            offset = int(m.group(1))
        chunks = []
        term = search_term.casefold() if search_term else None
        for room_id, joined in await self.store.public_room_ids():
            chunk = await self._public_chunk(room_id, joined)
            if room_types is not None and chunk.get("room_type") not in room_types:
                continue
            if term is not None and not any(
                    term in str(chunk.get(k, "")).casefold() for k in ("name", "topic", "canonical_alias", "room_id")):
                continue
            chunks.append(chunk)
        total = len(chunks)
        end = total if limit is None else min(total, offset + limit)
        page = chunks[offset:end]
        next_batch = f"o{end}" if end < total else None
        prev_batch = None
        if offset > 0:
            prev_batch = f"o{max(0, offset - (limit if limit is not None else offset))}"
        return PublicRoomsPage(page, next_batch, prev_batch, total)

    async def _public_chunk(self, room_id: str, joined: int) -> dict[str, Any]:
        async def content(type_: str) -> dict[str, Any]:
            eid = await self.events.current_state_event_id(room_id, type_, "")
            ev = await self.events.get_event(eid) if eid else None
            if ev is None:
                return {}
            data = redact_event_dict(ev.pdu.data, ev.pdu.room_version) if ev.redacted_by else ev.pdu.data
            c = data.get("content")
            return c if isinstance(c, dict) else {}

        chunk: dict[str, Any] = {"room_id": room_id, "num_joined_members": joined}
        name = (await content("m.room.name")).get("name")
        if isinstance(name, str) and name:
            chunk["name"] = name
        topic = plain_topic(await content("m.room.topic"))
        if topic:
            chunk["topic"] = topic
        alias = (await content("m.room.canonical_alias")).get("alias")
        if isinstance(alias, str) and alias:
            chunk["canonical_alias"] = alias
        avatar = (await content("m.room.avatar")).get("url")
        if isinstance(avatar, str) and avatar:
            chunk["avatar_url"] = avatar
        chunk["world_readable"] = (await content("m.room.history_visibility")).get("history_visibility") \
            == "world_readable"
        chunk["guest_can_join"] = (await content("m.room.guest_access")).get("guest_access") == "can_join"
        join_rule = (await content("m.room.join_rules")).get("join_rule")
        if isinstance(join_rule, str):
            chunk["join_rule"] = join_rule
        room_type = (await content("m.room.create")).get("type")
        if isinstance(room_type, str):
            chunk["room_type"] = room_type
        return chunk


def normalised_power_levels(pl: Pdu) -> dict[str, Any]:
    """Power levels content with every level read as its room version reads it and written as
    an integer, so that it is valid in any room version (v10+ accept integers only)."""
    version = pl.room_version
    out: dict[str, Any] = {}
    for key, value in pl.content.items():
        if key in NAMED_LEVEL_DEFAULTS:
            level = parse_level(value, version)
            if level is not None:
                out[key] = level
        elif key in ("users", "events", "notifications"):
            if isinstance(value, dict):
                levels = {k: parse_level(v, version) for k, v in value.items()}
                out[key] = {k: v for k, v in levels.items() if v is not None}
        else:
            out[key] = value
    return out


def topic_content(topic: str) -> dict[str, Any]:
    """m.room.topic content with the plain text also as an m.topic text/plain block (v1.15)."""
    return {"topic": topic, "m.topic": {"m.text": [{"mimetype": "text/plain", "body": topic}]}}


def plain_topic(content: dict[str, Any]) -> str | None:
    block = content.get("m.topic")
    texts = block.get("m.text") if isinstance(block, dict) else None
    if isinstance(texts, list):
        for t in texts:
            if not isinstance(t, dict) or not isinstance(t.get("body"), str):
                continue
            if t.get("mimetype", "text/plain") == "text/plain":
                return t["body"]
    topic = content.get("topic")
    return topic if isinstance(topic, str) else None

