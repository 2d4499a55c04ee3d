"""Admin API, registration tokens (Synapse docs/usage/administration/admin_api/registration_tokens.md)."""
from __future__ import annotations

from pydantic import Field, StrictInt, StrictStr
from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from . import AdminBody, admin_endpoint, query_bool

bp = Blueprint("admin_registration_tokens", __name__)


class TokenChanges(AdminBody):
    uses_allowed: StrictInt | None = Field(None, ge=0)
    expiry_time: StrictInt | None = None


class NewTokenBody(TokenChanges):
    token: StrictStr | None = None
    length: StrictInt | None = None


@admin_endpoint(bp, "GET", "/v1/registration_tokens")
async def list_registration_tokens(me: Requester, raw_args, hearth: Hearth) -> dict:
    valid = query_bool(raw_args.get("valid"), "valid", None)
    return {"registration_tokens": [t.to_json() for t in await hearth.admin.registration_tokens.list(valid)]}


@admin_endpoint(bp, "POST", "/v1/registration_tokens/new")
async def new_registration_token(me: Requester, body: NewTokenBody, hearth: Hearth) -> dict:
    created = await hearth.admin.registration_tokens.create(
        body.token, length=16 if body.length is None else body.length, uses_allowed=body.uses_allowed,
        expiry_time=body.expiry_time)
    return created.to_json()


@admin_endpoint(bp, "GET", "/v1/registration_tokens/{token}")
async def get_registration_token(me: Requester, token: str, hearth: Hearth) -> dict:
    return (await hearth.admin.registration_tokens.get(token)).to_json()


@admin_endpoint(bp, "PUT", "/v1/registration_tokens/{token}")
async def update_registration_token(me: Requester, token: str, body: TokenChanges, hearth: Hearth) -> dict:
    changes = {key: getattr(body, key) for key in ("uses_allowed", "expiry_time") if key in body.model_fields_set}
    return (await hearth.admin.registration_tokens.update(token, **changes)).to_json()


@admin_endpoint(bp, "DELETE", "/v1/registration_tokens/{token}")
async def delete_registration_token(me: Requester, token: str, hearth: Hearth) -> dict:
    await hearth.admin.registration_tokens.delete(token)
    return {}
