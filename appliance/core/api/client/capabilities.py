"""Capabilities (capabilities.yaml): what this server lets a client change."""
from __future__ import annotations

from quart import Blueprint

from ...protocol import room_versions
from ...services.account_moderation import AccountModerationService
from ...services.auth import Requester
from ..routing import ACCESS_TOKEN, endpoint
from ....hearth import Hearth

bp = Blueprint("client_capabilities", __name__)


@endpoint(bp, "GET", "/capabilities", auth=ACCESS_TOKEN)
async def get_capabilities(me: Requester, hearth: Hearth) -> dict:
    capabilities = {
        "m.change_password": {"enabled": True},
        "m.room_versions": {
            "default": hearth.settings.default_room_version,
            "available": {v.id: "stable" if v.stable else "unstable" for v in room_versions.KNOWN.values()},
        },
        "m.set_displayname": {"enabled": True},
        "m.set_avatar_url": {"enabled": True},
        "m.3pid_changes": {"enabled": False},
        "m.get_login_token": {"enabled": False},
        "m.profile_fields": {"enabled": True},
    }
    moderation = AccountModerationService.capability(me)
    if moderation is not None:
        capabilities["m.account_moderation"] = moderation
    return {"capabilities": capabilities}
