"""Account locking and suspension by server admins (admin.yaml, spec v1.12/v1.13/v1.18).

Both are reversible flags on the account. A locked account's every request but logout answers
401 M_USER_LOCKED with soft_logout (its tokens stay valid, so the session survives an unlock);
a suspended account may read, log in and out, leave and redact its own events, but joining,
knocking, inviting, sending messages and profile changes answer 403 M_USER_SUSPENDED. The
routing layer enforces both from the Requester; this service sets and reads the flags.

Checks run in the spec's order: the caller is an admin (before any lookup, so that nobody
else can enumerate accounts), the target is local, exists and is active, is not an admin, and
(for a change) is not the caller.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..protocol import ids
from ..protocol.errors import Forbidden, InvalidParam, NotFound
from ..storage.stores.account_moderation import AccountModerationStore
from ..storage.stores.accounts import AccountStore, User
from .auth import AuthService, Requester


@dataclass(frozen=True, slots=True)
class Moderation:
    locked: bool
    suspended: bool


class AccountModerationService:
    def __init__(self, server_name: str, accounts: AccountStore, store: AccountModerationStore, auth: AuthService):
        self.server_name = server_name
        self.accounts = accounts
        self.store = store
        self.auth = auth

    @staticmethod
    def capability(me: Requester) -> dict | None:
        """`m.account_moderation` of GET /capabilities: admins may do both, others nothing
        (the spec: omit it when both would be false)."""
        return {"lock": True, "suspend": True} if me.admin else None

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
