"""Registration tokens (invite codes) for admins: list, create, change, revoke.

Shared by the Synapse-compatible admin API and the admin web pages' invites page. A token
object's `to_json()` is the admin API's registration token object.
"""
from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

from ..protocol.errors import InvalidParam, NotFound
from ..storage.stores.accounts import now_ms
from ..storage.stores.admin import AdminStore
from ..storage.stores.uia import RegistrationToken, UiaStore
from .accounts.registration import Registration
from .setup import new_setup_code

_ALPHABET = string.ascii_letters + string.digits + "._~-"


def new_invite_code() -> str:
    """An invite code as people see it everywhere (web pages, wizard, `hearth registration-token`):
    XXXX-XXXX-XXXX in capitals and digits without look-alikes, easy to read out and type on a phone."""
    return new_setup_code()


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token: str
    uses_allowed: int | None
    pending: int
    completed: int
    expiry_time: int | None

    @classmethod
    def of(cls, t: RegistrationToken) -> "TokenInfo":
        return cls(t.token, t.uses_allowed, t.pending, t.completed, t.expiry_time)

    @property
    def valid(self) -> bool:
        return ((self.expiry_time is None or self.expiry_time > now_ms())
                and (self.uses_allowed is None or self.pending + self.completed < self.uses_allowed))

    def to_json(self) -> dict[str, Any]:
        return {"token": self.token, "uses_allowed": self.uses_allowed, "pending": self.pending,
                "completed": self.completed, "expiry_time": self.expiry_time}


_UNSET: Any = object()


class RegistrationTokenService:
    def __init__(self, registration: Registration, uia: UiaStore, store: AdminStore):
        self.registration = registration
        self.uia = uia
        self.store = store

    async def list(self, valid: bool | None = None) -> list[TokenInfo]:
        return [TokenInfo.of(t) for t in await self.store.list_registration_tokens(valid)]

    async def get(self, token: str) -> TokenInfo:
        found = await self.uia.get_registration_token(token)
        if found is None:
            raise NotFound("No such registration token")
        return TokenInfo.of(found)

    async def create(self, token: str | None = None, *, length: int = 16, uses_allowed: int | None = None,
                     expiry_time: int | None = None) -> TokenInfo:
        if token is None:
            if not 1 <= length <= 64:
                raise InvalidParam("length must be an integer between 1 and 64")
            token = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        created = await self.registration.create_registration_token(token, uses_allowed, expiry_time)
        return await self.get(created)

    async def create_invite(self, *, uses_allowed: int | None = None, expiry_time: int | None = None) -> TokenInfo:
        """A new invite code (new_invite_code's shape); the admin API's `create` keeps Synapse's."""
        return await self.create(new_invite_code(), uses_allowed=uses_allowed, expiry_time=expiry_time)

    async def update(self, token: str, *, uses_allowed: int | None = _UNSET,
                     expiry_time: int | None = _UNSET) -> TokenInfo:
        """Change the allowed uses or the expiry; a field left out is not changed, None lifts the limit."""
        changes: dict[str, int | None] = {}
        if uses_allowed is not _UNSET:
            if uses_allowed is not None and uses_allowed < 0:
                raise InvalidParam("uses_allowed must be a non-negative integer or null")
            changes["uses_allowed"] = uses_allowed
        if expiry_time is not _UNSET:
            if expiry_time is not None and expiry_time < now_ms():
                raise InvalidParam("expiry_time must not be in the past")
            changes["expiry_time"] = expiry_time
        if not await self.store.update_registration_token(token, changes):
            raise NotFound("No such registration token")
        return await self.get(token)

    async def delete(self, token: str) -> None:
        if not await self.store.delete_registration_token(token):
            raise NotFound("No such registration token")
