"""Third-party networks (third_party_lookup.yaml): asked of the appservices (external bridges)
that name the protocol in their registration (services/appservices/third_party.py)."""
from __future__ import annotations

from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import MissingParam
from ...services.auth import Requester
from ..routing import PathModel, QueryModel, endpoint

bp = Blueprint("client_third_party_lookup", __name__)


class ProtocolPath(PathModel):
    protocol: str


class AliasQuery(QueryModel):
    alias: str | None = None


class UserIdQuery(QueryModel):
    userid: str | None = None


def _fields(raw_args) -> dict[str, str]:
    return {k: v for k, v in raw_args.items() if k != "access_token"}


@endpoint(bp, "GET", "/thirdparty/protocols")
async def get_protocols(me: Requester, hearth: Hearth) -> dict:
    return await hearth.appservices.third_party.protocols()


@endpoint(bp, "GET", "/thirdparty/protocol/{protocol}")
async def get_protocol_metadata(me: Requester, path: ProtocolPath, hearth: Hearth) -> dict:
    return await hearth.appservices.third_party.protocol(path.protocol)


@endpoint(bp, "GET", "/thirdparty/location/{protocol}")
async def query_location_by_protocol(me: Requester, path: ProtocolPath, raw_args, hearth: Hearth) -> list:
    return await hearth.appservices.third_party.lookup("location", path.protocol, _fields(raw_args))


@endpoint(bp, "GET", "/thirdparty/user/{protocol}")
async def query_user_by_protocol(me: Requester, path: ProtocolPath, raw_args, hearth: Hearth) -> list:
    return await hearth.appservices.third_party.lookup("user", path.protocol, _fields(raw_args))


@endpoint(bp, "GET", "/thirdparty/location")
async def query_location_by_alias(me: Requester, query: AliasQuery, hearth: Hearth) -> list:
    if not query.alias:
        raise MissingParam("alias is required")
    return await hearth.appservices.third_party.lookup("location", None, {"alias": query.alias})


@endpoint(bp, "GET", "/thirdparty/user")
async def query_user_by_id(me: Requester, query: UserIdQuery, hearth: Hearth) -> list:
    if not query.userid:
        raise MissingParam("userid is required")
    return await hearth.appservices.third_party.lookup("user", None, {"userid": query.userid})
