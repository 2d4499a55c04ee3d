"""Shared-secret registration (Synapse docs/admin_api/register_api.md): `/_synapse/admin/v1/register`.

No access token: the caller proves it holds the server's shared secret with an HMAC over a
one-time nonce (services/shared_secret_registration.py). Off unless the admin turned it on.
"""
from __future__ import annotations

from pydantic import BaseModel, StrictBool, StrictStr
from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import ClientInfo
from ...services.shared_secret_registration import SharedSecretRequest
from ..routing import NO_AUTH, endpoint
from . import ADMIN_PREFIXES

bp = Blueprint("admin_register", __name__)


class SharedSecretBody(BaseModel):
    nonce: StrictStr
    username: StrictStr
    password: StrictStr
    mac: StrictStr
    admin: StrictBool = False
    displayname: StrictStr | None = None
    user_type: StrictStr | None = None


@endpoint(bp, "GET", "/v1/register", auth=NO_AUTH, prefixes=ADMIN_PREFIXES, rate_limited=True)
async def get_registration_nonce(hearth: Hearth) -> dict:
    return {"nonce": hearth.accounts.shared_secret.new_nonce()}


@endpoint(bp, "POST", "/v1/register", auth=NO_AUTH, prefixes=ADMIN_PREFIXES, rate_limited=True)
async def register_with_shared_secret(body: SharedSecretBody, client: ClientInfo, hearth: Hearth) -> dict:
    return await hearth.accounts.shared_secret.register(SharedSecretRequest(**body.model_dump()), client)
