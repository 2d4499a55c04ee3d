"""`GET /_matrix/federation/v1/version` (unauthenticated) and `GET /_matrix/federation/v1/query/profile`
(server-server-api.md "Querying for information"): the first endpoints behind the guard."""
from __future__ import annotations

from typing import Any

from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import InvalidParam, MissingParam
from ..routing import NO_AUTH, endpoint
from .guard import federation_origin, require_federation

bp = Blueprint("federation_queries", __name__)
FEDERATION_V1 = ("/_matrix/federation/v1",)


@endpoint(bp, "GET", "/version", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=True)
async def get_version(hearth: Hearth) -> dict:
    require_federation(hearth)
    return {"server": {"name": "Hearth", "version": "0.1.0"}}


@endpoint(bp, "GET", "/query/profile", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=True)
async def query_profile(raw_args: Any, hearth: Hearth) -> dict:
    await federation_origin(hearth)
    user_id = raw_args.get("user_id")
    if not user_id:
        raise MissingParam("user_id is required")
    field = raw_args.get("field")
    if field is not None and field not in ("displayname", "avatar_url"):
        raise InvalidParam("field must be displayname or avatar_url")
    profiles = hearth.accounts.profiles
    return await (profiles.get_profile_field(user_id, field) if field else profiles.get_profile(user_id))
