"""Invite permission (client-server-api "Invite permission", spec v1.18, MSC4380): a user whose
`m.invite_permission_config` account data has `default_action: block` receives no invites. Their
homeserver refuses them with 403 M_INVITE_BLOCKED on /invite, createRoom's `invite` list (the
room is still made) and a state PUT of an invite, and /sync leaves out the invites they hold."""
from __future__ import annotations

from typing import Any

from ...protocol.errors import InviteBlocked
from ...storage.stores.account_data import AccountDataStore
from .lookup import is_local

INVITE_PERMISSION_CONFIG = "m.invite_permission_config"


def blocks_invites(config: Any) -> bool:
    """A missing, invalid or unknown `default_action` means invites as normal (the schema)."""
    return isinstance(config, dict) and config.get("default_action") == "block"


class InvitePermission:
    def __init__(self, server_name: str, account_data: AccountDataStore):
        self.server_name = server_name
        self.account_data = account_data

    async def check(self, invitee: str) -> None:
        """Raise M_INVITE_BLOCKED if `invitee`, one of ours, blocks invites (a remote user's
        own server decides for them)."""
        if not is_local(invitee, self.server_name):
            return
        if blocks_invites(await self.account_data.get(invitee, "", INVITE_PERMISSION_CONFIG)):
            raise InviteBlocked(f"{invitee} does not accept invites")
