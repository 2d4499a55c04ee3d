"""`GET /_matrix/federation/v1/version` (unauthenticated) and `GET /_matrix/federation/v1/query/profile`
(server-server-api.md "Querying for information"): the first endpoints behind the guard."""
from __future__ import annotations

from typing import Any

from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import BadJson, InvalidParam, MissingParam
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


@endpoint(bp, "GET", "/query/directory", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=True)
async def query_room_directory(raw_args: Any, hearth: Hearth) -> dict:
    await federation_origin(hearth)
    alias = raw_args.get("room_alias")
    if not alias:
        raise MissingParam("room_alias is required")
    room_id, servers = await hearth.rooms.aliases.resolve_alias(alias)
    return {"room_id": room_id, "servers": servers}


def _limit(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidParam("limit must be an integer") from None


@endpoint(bp, "GET", "/publicRooms", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=True)
async def get_public_rooms(raw_args: Any, hearth: Hearth) -> dict:
    await federation_origin(hearth)
    page = await hearth.rooms.aliases.public_rooms(limit=_limit(raw_args.get("limit")), since=raw_args.get("since"))
    return page.to_json()


@endpoint(bp, "POST", "/publicRooms", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=True)
async def query_public_rooms(body: dict, hearth: Hearth) -> dict:
    await federation_origin(hearth, body)
    since = body.get("since")
    flt = body.get("filter") if isinstance(body.get("filter"), dict) else {}
    term = flt.get("generic_search_term")
    if (since is not None and not isinstance(since, str)) or (term is not None and not isinstance(term, str)):
        raise InvalidParam("since and filter.generic_search_term must be strings")
    page = await hearth.rooms.aliases.public_rooms(limit=_limit(body.get("limit")), since=since, search_term=term)
    return page.to_json()


def _local_user(hearth: Hearth, user_id: Any) -> str:
    from ...protocol import ids

    if not isinstance(user_id, str) or not ids.is_valid_user_id(user_id):
        raise InvalidParam("Not a user ID")
    if ids.server_name_of(user_id) != hearth.server_name:
        raise InvalidParam(f"{user_id} is not a user of this server")
    return user_id


@endpoint(bp, "GET", "/user/devices/{user_id}", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=True)
async def get_user_devices(user_id: str, hearth: Hearth) -> dict:
    await federation_origin(hearth)
    user_id = _local_user(hearth, user_id)
    keys = await hearth.e2ee.device_keys.query_keys(user_id, {user_id: []})
    devices = [{"device_id": d, "keys": k} for d, k in (keys["device_keys"].get(user_id) or {}).items()]
    out: dict[str, Any] = {"user_id": user_id, "stream_id": hearth.core.stream.current, "devices": devices}
    for field, name in (("master_keys", "master_key"), ("self_signing_keys", "self_signing_key")):
        if user_id in keys.get(field, {}):
            out[name] = keys[field][user_id]
    return out


@endpoint(bp, "POST", "/user/keys/query", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=True)
async def query_user_keys(body: dict, hearth: Hearth) -> dict:
    origin = await federation_origin(hearth, body)
    wanted = body.get("device_keys")
    if not isinstance(wanted, dict):
        raise BadJson("device_keys must be an object")
    for user_id in wanted:
        _local_user(hearth, user_id)
    keys = await hearth.e2ee.device_keys.query_keys(f"@:{origin}", wanted)
    keys.pop("user_signing_keys", None)  # only ever to the user themselves
    keys.pop("failures", None)
    return keys


@endpoint(bp, "POST", "/user/keys/claim", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=True)
async def claim_user_keys(body: dict, hearth: Hearth) -> dict:
    await federation_origin(hearth, body)
    wanted = body.get("one_time_keys")
    if not isinstance(wanted, dict):
        raise BadJson("one_time_keys must be an object")
    for user_id in wanted:
        _local_user(hearth, user_id)
    claimed = await hearth.e2ee.device_keys.claim_keys(wanted)
    return {"one_time_keys": claimed.get("one_time_keys", {})}
