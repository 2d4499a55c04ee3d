"""User names: localparts and user IDs of this server, for registration and login."""
from __future__ import annotations

import secrets
import string

from ...protocol import ids
from ...protocol.errors import InvalidUsername, UserInUse
from ...storage.stores.accounts import AccountStore

from ..appservices.registry import AppServiceRegistry

class AccountNames:
    def __init__(self, server_name: str, accounts: AccountStore, appservices: AppServiceRegistry):
        self.server_name = server_name
        self.accounts = accounts
        self.appservices = appservices

    def user_id_for(self, name: str) -> str:
        """A localpart or a full user ID of ours → the user ID (not checked for existence)."""
        if name.startswith("@"):
            try:
                localpart, server = ids.parse_user_id(name)
            except ValueError:
                raise InvalidUsername(f"{name!r} is not a user ID") from None
            if server != self.server_name:
                raise InvalidUsername(f"{name} is not a user of this server")
            return name
        return f"@{name}:{self.server_name}"

    @staticmethod
    def requested_localpart(username: str) -> str:
        """The localpart a registration asks for, lowercased: the spec's `username` is "the basis
        for the localpart", and new user IDs may not hold capitals (appendices, "User
        Identifiers"); Synapse lowercases too, so `Alice` registers `@alice`."""
        return username.lower()

    def new_user_id(self, localpart: str) -> str:
        if not ids.is_valid_user_localpart(localpart):
            raise InvalidUsername("User names may only contain a-z, 0-9, and . _ = - / +")
        user_id = f"@{localpart}:{self.server_name}"
        if len(user_id.encode()) > ids.MAX_ID_BYTES:
            raise InvalidUsername("User name too long")
        return user_id

    async def check_username_available(self, username: str) -> None:
        """Raises M_INVALID_USERNAME, M_EXCLUSIVE (a bridge's namespace) or M_USER_IN_USE;
        returns if the name can be registered by a person."""
        user_id = self.new_user_id(username)
        self.appservices.check_not_exclusive("users", user_id)
        if await self.accounts.user_exists(user_id):
            raise UserInUse("User ID already taken.")

    async def generated_localpart(self) -> str:
        while True:
            localpart = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(12))
            if not await self.accounts.user_exists(f"@{localpart}:{self.server_name}"):
                return localpart

    async def resolve_login_user(self, name: str) -> str | None:
        """An m.id.user identifier (localpart or user ID) → an existing local user ID, or None.

        Localparts are matched exactly first, then lowercased (clients may capitalise them).
        """
        try:
            user_id = self.user_id_for(name)
        except InvalidUsername:
            return None
        if await self.accounts.user_exists(user_id):
            return user_id
        lowered = f"@{ids.parse_user_id(user_id)[0].lower()}:{self.server_name}"
        if lowered != user_id and await self.accounts.user_exists(lowered):
            return lowered
        return None
