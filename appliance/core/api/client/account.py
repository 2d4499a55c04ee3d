"""whoami (whoami.yaml), password change (password_management.yaml), deactivation
(account_deactivation.yaml)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, StrictBool, StrictStr
from quart import Blueprint

from ...services.auth import ClientInfo, Requester
from ..routing import ACCESS_TOKEN, OPTIONAL, endpoint
from ....hearth import Hearth

bp = Blueprint("client_account", __name__)


@endpoint(bp, "GET", "/account/whoami", auth=ACCESS_TOKEN)
async def get_token_owner(me: Requester) -> dict:
    out = {"user_id": me.user_id, "is_guest": me.is_guest}
    if me.device_id is not None:  # an appservice acting without a device has none
        out["device_id"] = me.device_id
    return out


class ChangePasswordBody(BaseModel, extra="allow"):
    new_password: StrictStr
    logout_devices: StrictBool = True
    auth: dict[str, Any] | None = None


@endpoint(bp, "POST", "/account/password", auth=OPTIONAL)
async def change_password(me: Requester | None, body: ChangePasswordBody, hearth: Hearth,
                          client: ClientInfo) -> dict:
    """UIA with m.login.password; without an access token the password stage names the user."""
    if me is None:
        hearth.core.login_ratelimiter.check(f"ip:{client.ip}")
    await hearth.accounts.login.change_password(me, body.auth, body.new_password, body.logout_devices)
    return {}


class DeactivateBody(BaseModel, extra="allow"):
    auth: dict[str, Any] | None = None
    id_server: StrictStr | None = None
    erase: StrictBool = False


@endpoint(bp, "POST", "/account/deactivate", auth=OPTIONAL)
async def deactivate_account(me: Requester | None, body: DeactivateBody, hearth: Hearth,
                             client: ClientInfo) -> dict:
    """UIA with m.login.password; the account leaves its rooms and every device is signed out."""
    if me is None:
        hearth.core.login_ratelimiter.check(f"ip:{client.ip}")
    return await hearth.accounts.deactivation.deactivate(me, body.auth, body.erase)
