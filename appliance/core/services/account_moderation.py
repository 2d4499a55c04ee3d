"""Account locking and suspension by server admins (admin.yaml, spec v1.12/v1.13/v1.18).

Both are reversible flags on the account. A locked account's every request but logout answers
401 M_USER_LOCKED with soft_logout (its tokens stay valid, so the session survives an unlock);
a suspended account may read, log in and out, leave and redact its own events, but joining,
knocking, inviting, sending messages or state, redacting others' events and profile changes
answer 403 M_USER_SUSPENDED. The routing layer enforces locking and the endpoints refused
outright (`forbid_suspended`); the send, state and redact handlers ask `check_suspended_send`,
because there the answer depends on the event. This service also sets and reads the flags.

Checks run in the spec's order: the caller is an admin (before any lookup, so that nobody
else can enumerate accounts), the target is local, exists and is active, is not an admin, and
(for a change) is not the caller.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..protocol import ids
from typing import Any

from ..protocol.errors import Forbidden, InvalidParam, NotFound, UserSuspended
from ..storage.stores.account_moderation import AccountModerationStore
from ..storage.stores.accounts import AccountStore, User
from ..storage.stores.events import EventStore
from .auth import AuthService, Requester


@dataclass(frozen=True, slots=True)
class Moderation:
    locked: bool
    suspended: bool


class AccountModerationService:
    def __init__(self, server_name: str, accounts: AccountStore, store: AccountModerationStore, auth: AuthService,
                 events: EventStore):
        self.server_name = server_name
        self.accounts = accounts
        self.store = store
        self.auth = auth
        self.events = events

    @staticmethod
    def capability(me: Requester) -> dict | None:
        """`m.account_moderation` of GET /capabilities: admins may do both, others nothing
        (the spec: omit it when both would be false)."""
        return {"lock": True, "suspend": True} if me.admin else None

    async def check_suspended_send(self, me: Requester, room_id: str, event_type: str, content: dict[str, Any],
                                   state_key: str | None = None) -> None:
        """What a suspended user may still send: a redaction of their own event (spec: "Redact
        their own events"), and their own leave (leaving a room, rejecting an invite)."""
        if not me.suspended:
            return
        if event_type == "m.room.redaction" and state_key is None:
            if await self._is_own_event(me.user_id, room_id, content.get("redacts")):
                return
        elif event_type == "m.room.member" and state_key == me.user_id and content.get("membership") == "leave":
            return
        raise UserSuspended("You cannot perform this action while suspended.")

    async def _is_own_event(self, user_id: str, room_id: str, event_id: Any) -> bool:
        if not isinstance(event_id, str):
            return False
        event = await self.events.get_event(event_id)
        return event is not None and event.pdu.room_id == room_id and event.pdu.sender == user_id

    async def get(self, me: Requester, user_id: str) -> Moderation:
        user = await self._target(me, user_id)
        return Moderation(user.locked, user.suspended)

    async def set_locked(self, me: Requester, user_id: str, locked: bool) -> bool:
        await self._target(me, user_id, changing=True)
        await self.store.set_locked(user_id, locked)
        self.auth.forget_user(user_id)  # cached tokens carry the old flags
        return locked

    async def set_suspended(self, me: Requester, user_id: str, suspended: bool) -> bool:
        await self._target(me, user_id, changing=True)
        await self.store.set_suspended(user_id, suspended)
        self.auth.forget_user(user_id)
        return suspended

    async def _target(self, me: Requester, user_id: str, *, changing: bool = False) -> User:
        if not me.admin:
            raise Forbidden("Requesting user is not a server administrator.")
        if not ids.is_valid_user_id(user_id):
            raise InvalidParam("Not a user ID.")
        if ids.server_name_of(user_id) != self.server_name:
            raise InvalidParam("User does not belong to the local server.")
        user = await self.accounts.get_user(user_id)
        if user is None or user.deactivated:
            raise NotFound("User not found.")
        if changing and user_id == me.user_id:
            raise Forbidden("You cannot lock or suspend your own account.")
        if user.admin:
            raise Forbidden("The target user is a server administrator.")
        return user
