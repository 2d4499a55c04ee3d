"""Third-party networks (third_party_lookup.yaml): no bridges publish protocols yet, so there
are none, no protocol metadata, and every lookup is empty."""
from __future__ import annotations

from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import MissingParam, NotFound
from ...services.auth import Requester
from ..routing import PathModel, QueryModel, endpoint

bp = Blueprint("client_third_party_lookup", __name__)


class ProtocolPath(PathModel):
    protocol: str


class AliasQuery(QueryModel):
    alias: str | None = None


class UserIdQuery(QueryModel):
    userid: str | None = None


@endpoint(bp, "GET", "/thirdparty/protocols")
async def get_protocols(me: Requester, hearth: Hearth) -> dict:
    return {}


@endpoint(bp, "GET", "/thirdparty/protocol/{protocol}")
async def get_protocol_metadata(me: Requester, path: ProtocolPath, hearth: Hearth) -> dict:
    raise NotFound(f"Unknown protocol {path.protocol!r}")


@endpoint(bp, "GET", "/thirdparty/location/{protocol}")
async def query_location_by_protocol(me: Requester, path: ProtocolPath, hearth: Hearth) -> list:
    return []


@endpoint(bp, "GET", "/thirdparty/user/{protocol}")
async def query_user_by_protocol(me: Requester, path: ProtocolPath, hearth: Hearth) -> list:
    return []


@endpoint(bp, "GET", "/thirdparty/location")
async def query_location_by_alias(me: Requester, query: AliasQuery, hearth: Hearth) -> list:
    if not query.alias:
        raise MissingParam("alias is required")
    return []


@endpoint(bp, "GET", "/thirdparty/user")
async def query_user_by_id(me: Requester, query: UserIdQuery, hearth: Hearth) -> list:
    if not query.userid:
        raise MissingParam("userid is required")
    return []
