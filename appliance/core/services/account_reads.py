"""What the web pages read of an account: the user, whether a name is taken, the devices and the
joined rooms. Reads only; changes go through the account and admin services."""
from __future__ import annotations

from ..storage.stores.accounts import AccountStore, Device, User


class AccountReads:
    def __init__(self, accounts: AccountStore):
        self.accounts = accounts

    async def user(self, user_id: str) -> User | None:
        return await self.accounts.get_user(user_id)

    async def exists(self, user_id: str) -> bool:
        return await self.accounts.user_exists(user_id)

    async def devices(self, user_id: str) -> list[Device]:
        return await self.accounts.list_devices(user_id)

    async def device_ids(self, user_id: str) -> list[str]:
        """Every device of a user, with or without a live token."""
        return await self.accounts.device_ids(user_id)

    async def joined_room_ids(self, user_id: str) -> list[str]:
        return await self.accounts.room_ids_with_membership(user_id, ("join",))
