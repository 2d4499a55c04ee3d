"""Account registration (registration.yaml) and registration-token validity (registration_tokens.yaml)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, StrictBool, StrictStr
from quart import Blueprint

from ...protocol.errors import MissingToken
from ...services.accounts.login import APPSERVICE
from ...services.auth import ClientInfo
from ..routing import CLIENT_PREFIXES, NO_AUTH, QueryModel, endpoint
from ....hearth import Hearth

bp = Blueprint("client_register", __name__)


class RegisterQuery(QueryModel):
    kind: Literal["user", "guest"] = "user"


class RegisterBody(BaseModel, extra="allow"):
    type: StrictStr | None = None  # m.login.application_service: an appservice registers a user
    auth: dict[str, Any] | None = None
    username: StrictStr | None = None
    password: StrictStr | None = None
    device_id: StrictStr | None = None
    initial_device_display_name: StrictStr | None = None
    inhibit_login: StrictBool | None = None  # None: as the UIA session's first request said
    refresh_token: StrictBool = False


@endpoint(bp, "POST", "/register", auth=NO_AUTH)
async def register(query: RegisterQuery, body: RegisterBody, hearth: Hearth, client: ClientInfo,
                   access_token: str | None) -> dict:
    """User-interactive: m.login.dummy when registration is open, m.login.registration_token when
    it needs an invite code; 403 when closed. Guest accounts are not offered. Registration has a
    rate limit of its own: failed logins do not hold it up, nor it them. An appservice registers
    its users with m.login.application_service and its as_token, without UIA."""
    if body.type == APPSERVICE:
        if access_token is None:
            raise MissingToken("Registering as an application service needs its as_token")
        me = await hearth.core.auth.get_requester(access_token)
        return await hearth.accounts.registration.register_as_appservice(
            me, username=body.username, device_id=body.device_id,
            initial_device_display_name=body.initial_device_display_name, inhibit_login=bool(body.inhibit_login),
            refresh_token=body.refresh_token, client=client)
    hearth.core.registration_ratelimiter.check(f"ip:{client.ip}")
    return await hearth.accounts.registration.register(
        kind=query.kind, auth=body.auth, username=body.username, password=body.password,
        device_id=body.device_id, initial_device_display_name=body.initial_device_display_name,
        inhibit_login=body.inhibit_login, refresh_token=body.refresh_token, client=client)


class AvailableQuery(QueryModel):
    username: str


@endpoint(bp, "GET", "/register/available", auth=NO_AUTH)
async def check_username_availability(query: AvailableQuery, hearth: Hearth, client: ClientInfo) -> dict:
    hearth.core.ratelimiter.check(f"ip:{client.ip}")
    await hearth.accounts.registration.check_username_available(query.username)
    return {"available": True}


class TokenQuery(QueryModel):
    token: str


@endpoint(bp, "GET", "/register/m.login.registration_token/validity", auth=NO_AUTH,
          prefixes=("/_matrix/client/v1", *CLIENT_PREFIXES))
async def registration_token_validity(query: TokenQuery, hearth: Hearth, client: ClientInfo) -> dict:
    """Rate-limited with registration: this endpoint invites guessing invite codes."""
    hearth.core.registration_ratelimiter.check(f"ip:{client.ip}")
    return {"valid": await hearth.accounts.registration.registration_token_validity(query.token)}
