"""Deactivation (account_deactivation in the client-server API; the admin API and pages): the
account is marked, its credentials end, its devices are deleted, and it leaves every room
through Membership (the checks of POST /leave)."""
from __future__ import annotations

import logging
from typing import Any

from ...storage.stores.accounts import AccountStore
from ..auth import AuthService, Requester
from ..rooms.membership import Membership
from .devices import Devices
from .login import Login
from .uia import PASSWORD, UserInteractiveAuth

log = logging.getLogger(__name__)


class Deactivation:
    def __init__(self, accounts: AccountStore, auth: AuthService, uia: UserInteractiveAuth, devices: Devices,
                 login: Login, membership: Membership):
        self.accounts = accounts
        self.auth = auth
        self.uia = uia
        self.devices = devices
        self.login = login
        self.membership = membership

    async def deactivate(self, me: Requester | None, auth: Any, erase: bool) -> dict:
        request_key = "POST /account/deactivate" + (f" {me.user_id}" if me else "")
        session = await self.uia.run(auth, [[PASSWORD]], request_key,
                                                   user_id=me.user_id if me else None)
        user_id = me.user_id if me else session.result["user_id"]
        await self.uia.finish(session.session_id)
        await self.deactivate_user(user_id, erase)
        return {"id_server_unbind_result": "success"}  # we hold no third-party identifiers

    async def deactivate_user(self, user_id: str, erase: bool) -> None:
        """Deactivate without UIA (the caller has authorised it: the user, or an admin)."""
        await self.accounts.set_deactivated(user_id)
        await self.login.credentials_changed(user_id)
        await self.devices.delete(user_id, await self.accounts.device_ids(user_id))
        self.auth.forget_user(user_id)
        if erase:
            await self.accounts.delete_profile_fields(user_id)
        await self.membership.leave_all(user_id)
        log.info("deactivated %s", user_id)
