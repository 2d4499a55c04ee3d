"""Admin API, registration tokens (Synapse docs/usage/administration/admin_api/registration_tokens.md)."""
from __future__ import annotations

from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import InvalidParam
from ...services.auth import Requester
from . import admin_endpoint, body_int, body_str, query_bool

bp = Blueprint("admin_registration_tokens", __name__)


@admin_endpoint(bp, "GET", "/v1/registration_tokens")
async def list_registration_tokens(me: Requester, raw_args, hearth: Hearth) -> dict:
    valid = query_bool(raw_args.get("valid"), "valid", None)
    return {"registration_tokens": [t.to_json() for t in await hearth.admin.registration_tokens.list(valid)]}


@admin_endpoint(bp, "POST", "/v1/registration_tokens/new")
async def new_registration_token(me: Requester, body: dict, hearth: Hearth) -> dict:
    length = body_int(body, "length")
    uses_allowed = body_int(body, "uses_allowed")
    if uses_allowed is not None and uses_allowed < 0:
        raise InvalidParam("uses_allowed must be a non-negative integer or null")
    created = await hearth.admin.registration_tokens.create(
        body_str(body, "token"), length=16 if length is None else length, uses_allowed=uses_allowed,
        expiry_time=body_int(body, "expiry_time"))
    return created.to_json()


@admin_endpoint(bp, "GET", "/v1/registration_tokens/{token}")
async def get_registration_token(me: Requester, token: str, hearth: Hearth) -> dict:
    return (await hearth.admin.registration_tokens.get(token)).to_json()


@admin_endpoint(bp, "PUT", "/v1/registration_tokens/{token}")
async def update_registration_token(me: Requester, token: str, body: dict, hearth: Hearth) -> dict:
    changes = {}
    for key in ("uses_allowed", "expiry_time"):
        if key in body:
            changes[key] = body_int(body, key)
    return (await hearth.admin.registration_tokens.update(token, **changes)).to_json()


@admin_endpoint(bp, "DELETE", "/v1/registration_tokens/{token}")
async def delete_registration_token(me: Requester, token: str, hearth: Hearth) -> dict:
    await hearth.admin.registration_tokens.delete(token)
    return {}
