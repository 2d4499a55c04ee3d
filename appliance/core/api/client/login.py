"""Login and token refresh (login.yaml, refresh.yaml)."""
from __future__ import annotations

from pydantic import BaseModel, StrictStr
from quart import Blueprint

from ...protocol.errors import MissingToken
from ...services.accounts.login import APPSERVICE
from ...services.auth import ClientInfo
from ..routing import NO_AUTH, endpoint
from ....hearth import Hearth

bp = Blueprint("client_login", __name__)


@endpoint(bp, "GET", "/login", auth=NO_AUTH)
async def get_login_flows(hearth: Hearth) -> dict:
    return {"flows": hearth.accounts.login.login_flows()}


@endpoint(bp, "POST", "/login", auth=NO_AUTH)
async def login(body: dict, hearth: Hearth, client: ClientInfo, access_token: str | None) -> dict:
    """m.login.password with an m.id.user identifier (localpart or user ID) or the legacy `user`;
    m.login.application_service with an appservice's as_token. Other tokens are not looked at (a
    client may send a stale one)."""
    me = None
    if body.get("type") == APPSERVICE:
        if access_token is None:
            raise MissingToken("Logging in as an application service needs its as_token")
        me = await hearth.core.auth.get_requester(access_token)
    else:
        hearth.core.login_ratelimiter.check(f"ip:{client.ip}")
    return await hearth.accounts.login.login(body, client, me)


class RefreshBody(BaseModel):
    refresh_token: StrictStr


@endpoint(bp, "POST", "/refresh", auth=NO_AUTH)
async def refresh(body: RefreshBody, hearth: Hearth, client: ClientInfo) -> dict:
    hearth.core.ratelimiter.check(f"ip:{client.ip}")
    return await hearth.accounts.login.refresh(body.refresh_token)
