"""Membership: join, invite, leave, kick, ban, unban, knock and forget (joining, inviting,
leaving, kicking, banning, knocking in the client-server API), and the one place that builds
m.room.member events.

Everyone who changes a membership calls this service: room creation (the creator's join, the
invites), upgrades (the upgrader's join, carried-over bans and invites), deactivation
(`leave_all`, through the same checks as POST /leave), profile changes (`refresh_profile`),
server notices and the admin's room shutdown. `membership_check` runs before a join, invite or
knock (the admin service refuses blocked rooms there).
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ...protocol import ids
from ...protocol.errors import Forbidden, GuestAccessForbidden, InvalidParam, MatrixError
from ...protocol.events import Pdu
from ...protocol.power_levels import get_named_level, get_user_power_level
from ...storage.stores.accounts import AccountStore
from ...storage.stores.events import EventStore
from ...storage.stores.rooms import RoomStore
from ..pipeline import EventPipeline
from .aliases import RoomAliases
from .invite_permission import InvitePermission
from .lookup import IN_ROOM, RoomLookup, is_local

log = logging.getLogger(__name__)

PROFILE_FIELDS = ("displayname", "avatar_url")
# Keys of a member event's content that a client's extra keys never set: the server's own.
SERVER_MEMBER_KEYS = frozenset({"membership", "join_authorised_via_users_server", "third_party_invite"})


def client_extra(extra: dict[str, Any] | None) -> dict[str, Any]:
    """The keys a client added to a join or invite body beyond the spec's, which the member
    event keeps (clients put their own data there, as they may in any event content)."""
    return {k: v for k, v in (extra or {}).items() if k not in SERVER_MEMBER_KEYS}

# check(room_id, user_id, membership) raises to refuse a join, invite or knock.
MembershipCheck = Callable[[str, str, str], Awaitable[None]]


class Membership:
    def __init__(self, server_name: str, events: EventStore, pipeline: EventPipeline, accounts: AccountStore,
                 store: RoomStore, aliases: RoomAliases, lookup: RoomLookup, membership_check: MembershipCheck,
                 invite_permission: InvitePermission):
        self.server_name = server_name
        self.events = events
        self.pipeline = pipeline
        self.accounts = accounts
        self.store = store
        self.aliases = aliases
        self.lookup = lookup
        self.membership_check = membership_check  # the admin service refuses blocked rooms
        self.invite_permission = invite_permission  # invitees who block invites

    # -- building member events (the only place) -------------------------------------------

    async def member_content(self, user_id: str, membership: str, reason: str | None) -> dict[str, Any]:
        """A membership event's content with the user's profile (joins, invites, knocks)."""
        content: dict[str, Any] = {"membership": membership}
        if membership in IN_ROOM and is_local(user_id, self.server_name):
            user = await self.accounts.get_user(user_id)
            if user is not None:
                if user.displayname is not None:
                    content["displayname"] = user.displayname
                if user.avatar_url is not None:
                    content["avatar_url"] = user.avatar_url
        if reason is not None:
            content["reason"] = reason
        return content

    async def _send_content(self, room_id: str, sender: str, target: str, content: dict[str, Any]) -> str:
        persisted = await self.pipeline.create_event(room_id, sender, "m.room.member", content, state_key=target)
        return persisted.pdu.event_id

    async def send_member(self, room_id: str, sender: str, target: str, membership: str, *,
                          reason: str | None = None, is_direct: bool = False,
                          extra: dict[str, Any] | None = None, client_keys: dict[str, Any] | None = None) -> str:
        """Build and send `target`'s m.room.member event (with their profile for joins, invites
        and knocks) without the checks of the endpoints below: for the room services that
        have made their own (creation, upgrades). `client_keys`: a client's own keys, under
        the server's. Returns the event ID."""
        content = {**(client_keys or {}), **await self.member_content(target, membership, reason)}
        if is_direct:
            content["is_direct"] = True
        if extra:
            content.update(extra)
        return await self._send_content(room_id, sender, target, content)

    async def _check_membership(self, room_id: str, user_id: str, membership: str) -> None:
        await self.membership_check(room_id, user_id, membership)

    # -- the endpoints ----------------------------------------------------------------------

    async def join(self, user_id: str, room_id_or_alias: str, *, reason: str | None = None,
                   is_guest: bool = False, extra: dict[str, Any] | None = None) -> str:
        """POST /join/{roomIdOrAlias} and /rooms/{roomId}/join; returns the room ID."""
        if room_id_or_alias.startswith("!"):  # a blocked room may be unknown here, or purged
            await self._check_membership(room_id_or_alias, user_id, "join")
        room_id = await self.aliases.resolve_room(room_id_or_alias)
        await self._check_membership(room_id, user_id, "join")
        version = await self.lookup.version(room_id)
        current = await self.events.membership(room_id, user_id)
        if current == "join":
            return room_id
        if current == "ban":
            raise Forbidden("You are banned from this room")
        if is_guest:
            guest = await self.lookup.state(room_id, "m.room.guest_access")
            if guest is None or guest.content.get("guest_access") != "can_join":
                raise GuestAccessForbidden("Guests may not join this room")
        content = {**client_extra(extra), **await self.member_content(user_id, "join", reason)}
        rules = await self.lookup.state(room_id, "m.room.join_rules")
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
        await self._send_content(room_id, user_id, user_id, content)
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
        pl, create = await self.lookup.power_levels_and_create(room_id)
        needed = get_named_level(pl, "invite")
        best: tuple[float, str] | None = None
        for member in await self.events.members(room_id, "join"):
            if not is_local(member, self.server_name):
                continue
            level = get_user_power_level(member, pl, create)
            if level >= needed and (best is None or level > best[0]):
                best = (level, member)
        return best[1] if best else None

    async def invite(self, room_id: str, inviter: str, invitee: str, *, reason: str | None = None,
                     is_direct: bool = False, extra: dict[str, Any] | None = None) -> None:
        """POST /rooms/{roomId}/invite. Inviting someone already invited succeeds."""
        if not ids.is_valid_user_id(invitee):
            raise InvalidParam("Not a user ID")
        await self.lookup.version(room_id)
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
        if is_local(invitee, self.server_name) and not await self.accounts.user_exists(invitee):
            raise Forbidden(f"{invitee} does not exist")
        await self.invite_permission.check(invitee)
        await self.send_member(room_id, inviter, invitee, "invite", reason=reason, is_direct=is_direct,
                               client_keys=client_extra(extra))

    async def leave(self, room_id: str, user_id: str, *, reason: str | None = None) -> None:
        """POST /rooms/{roomId}/leave: leave, reject an invite or retract a knock."""
        await self.lookup.version(room_id)
        current = await self.events.membership(room_id, user_id)
        if current == "leave":
            return
        if current == "ban":
            raise Forbidden("You are banned from this room")
        if current not in IN_ROOM:
            raise Forbidden("You are not in this room")
        await self.send_member(room_id, user_id, user_id, "leave", reason=reason)

    async def forget(self, room_id: str, user_id: str) -> None:
        """POST /rooms/{roomId}/forget: only once the user has left (or was kicked or banned)."""
        await self.lookup.version(room_id)
        record = await self.store.membership_record(user_id, room_id)
        if record is not None and record[0] in IN_ROOM:
            raise MatrixError(f"User {user_id} is in room {room_id}", errcode="M_UNKNOWN", status=400)
        if record is not None:
            await self.store.forget(user_id, room_id)

    async def kick(self, room_id: str, sender: str, target: str, *, reason: str | None = None) -> None:
        await self.lookup.version(room_id)
        if await self.events.membership(room_id, target) not in IN_ROOM:
            raise Forbidden(f"{target} is not in the room")
        await self.send_member(room_id, sender, target, "leave", reason=reason)

    async def ban(self, room_id: str, sender: str, target: str, *, reason: str | None = None) -> None:
        if not ids.is_valid_user_id(target):
            raise InvalidParam("Not a user ID")
        await self.lookup.version(room_id)
        await self.send_member(room_id, sender, target, "ban", reason=reason)

    async def unban(self, room_id: str, sender: str, target: str, *, reason: str | None = None) -> None:
        await self.lookup.version(room_id)
        if await self.events.membership(room_id, target) != "ban":
            raise Forbidden(f"{target} is not banned")
        await self.send_member(room_id, sender, target, "leave", reason=reason)

    async def knock(self, user_id: str, room_id_or_alias: str, *, reason: str | None = None) -> str:
        """POST /knock/{roomIdOrAlias}; returns the room ID."""
        room_id = await self.aliases.resolve_room(room_id_or_alias)
        await self._check_membership(room_id, user_id, "knock")
        version = await self.lookup.version(room_id)
        if not version.auth.knocking:
            raise Forbidden(f"Room version {version.id} does not support knocking")
        current = await self.events.membership(room_id, user_id)
        if current in ("join", "invite", "ban"):
            raise Forbidden({"join": "You are already in the room", "invite": "You are already invited",
                             "ban": "You are banned from this room"}[current])
        rules = await self.lookup.state(room_id, "m.room.join_rules")
        join_rule = rules.content.get("join_rule") if rules else None
        if join_rule != "knock" and not (join_rule == "knock_restricted" and version.auth.knock_restricted_join):
            raise Forbidden("You are not allowed to knock on this room.")
        await self.send_member(room_id, user_id, user_id, "knock", reason=reason)
        return room_id

    # -- for other services -----------------------------------------------------------------

    async def leave_all(self, user_id: str) -> None:
        """Deactivation: leave joined rooms, reject invites and rescind knocks, each through
        `leave` (the checks of POST /leave). A room that refuses is logged and skipped."""
        for room_id in await self.accounts.room_ids_with_membership(user_id, IN_ROOM):
            try:
                await self.leave(room_id, user_id)
            except MatrixError as exc:  # e.g. an invite to a room we do not hold (federation)
                log.warning("deactivation: %s could not leave %s: %s", user_id, room_id, exc.error)

    async def refresh_profile(self, user_id: str) -> None:
        """After a profile change: a fresh m.room.member (same membership and other fields, the
        new displayname/avatar_url) in each room the user is joined to."""
        user = await self.accounts.get_user(user_id)
        assert user is not None
        for room_id in await self.accounts.room_ids_with_membership(user_id, ("join",)):
            current = await self.events.current_state_event(room_id, "m.room.member", user_id)
            if current is None or current.membership != "join":
                continue
            content = {k: v for k, v in current.content.items() if k not in PROFILE_FIELDS}
            if user.displayname is not None:
                content["displayname"] = user.displayname
            if user.avatar_url is not None:
                content["avatar_url"] = user.avatar_url
            if content == current.content:
                continue
            try:
                await self._send_content(room_id, user_id, user_id, content)
            except MatrixError as exc:
                log.warning("profile update of %s not sent to %s: %s", user_id, room_id, exc.error)
