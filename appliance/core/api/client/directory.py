"""Room aliases (directory.yaml) and the published room directory (list_public_rooms.yaml)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..routing import ACCESS_TOKEN, NO_AUTH, OPTIONAL, PathModel, QueryModel, endpoint

bp = Blueprint("client_directory", __name__)


class AliasPath(PathModel):
    room_alias: str


class RoomPath(PathModel):
    room_id: str


class SetAliasBody(BaseModel, extra="allow"):
    room_id: str


class VisibilityBody(BaseModel, extra="allow"):
    visibility: Literal["public", "private"] = "public"


class PublicRoomsQuery(QueryModel):
    limit: int | None = None
    since: str | None = None
    server: str | None = None


class PublicRoomsServerQuery(QueryModel):
    server: str | None = None


class PublicRoomsFilter(BaseModel, extra="allow"):
    generic_search_term: str | None = None
    room_types: list[str | None] | None = None


class PublicRoomsBody(BaseModel, extra="allow"):
    limit: int | None = None
    since: str | None = None
    filter: PublicRoomsFilter | None = None
    include_all_networks: bool = False
    third_party_instance_id: str | None = None


@endpoint(bp, "PUT", "/directory/room/{room_alias}", auth=ACCESS_TOKEN, allow_guest=False)
async def set_room_alias(me: Requester, path: AliasPath, body: SetAliasBody, hearth: Hearth) -> dict:
    await hearth.rooms.aliases.set_alias(path.room_alias, body.room_id, me.user_id, admin=me.admin,
                                         appservice_id=me.appservice_id)
    return {}


def _remote(hearth: Hearth, alias: str) -> bool:
    from ...protocol import ids

    try:
        return ids.server_name_of(alias) != hearth.server_name
    except ValueError:
        return False


@endpoint(bp, "GET", "/directory/room/{room_alias}", auth=NO_AUTH)
async def get_room_id_by_alias(path: AliasPath, hearth: Hearth) -> dict:
    if hearth.settings.federation_enabled and _remote(hearth, path.room_alias):
        room_id, servers = await hearth.federation.lookups.alias(path.room_alias)
        return {"room_id": room_id, "servers": servers}
    room_id, servers = await hearth.rooms.aliases.resolve_alias(path.room_alias)
    return {"room_id": room_id, "servers": servers}


@endpoint(bp, "DELETE", "/directory/room/{room_alias}", auth=ACCESS_TOKEN, allow_guest=False)
async def delete_room_alias(me: Requester, path: AliasPath, hearth: Hearth) -> dict:
    await hearth.rooms.aliases.delete_alias(path.room_alias, me.user_id, admin=me.admin,
                                            appservice_id=me.appservice_id)
    return {}


@endpoint(bp, "GET", "/rooms/{room_id}/aliases", auth=ACCESS_TOKEN, rate_limited=True)
async def get_local_aliases(me: Requester, path: RoomPath, hearth: Hearth) -> dict:
    return {"aliases": await hearth.rooms.aliases.local_aliases(path.room_id, me.user_id, admin=me.admin)}


@endpoint(bp, "GET", "/directory/list/room/{room_id}", auth=NO_AUTH)
async def get_room_visibility_on_directory(path: RoomPath, hearth: Hearth) -> dict:
    return {"visibility": await hearth.rooms.aliases.get_visibility(path.room_id)}


@endpoint(bp, "PUT", "/directory/list/room/{room_id}", auth=ACCESS_TOKEN, allow_guest=False)
async def set_room_visibility_on_directory(me: Requester, path: RoomPath, body: VisibilityBody,
                                           hearth: Hearth) -> dict:
    await hearth.rooms.aliases.set_visibility(path.room_id, me.user_id, body.visibility, admin=me.admin)
    return {}


@endpoint(bp, "GET", "/publicRooms", auth=OPTIONAL)
async def get_public_rooms(query: PublicRoomsQuery, hearth: Hearth) -> dict:
    page = await hearth.rooms.aliases.public_rooms(limit=query.limit, since=query.since, server=query.server)
    return page.to_json()


@endpoint(bp, "POST", "/publicRooms", auth=ACCESS_TOKEN)
async def query_public_rooms(me: Requester, query: PublicRoomsServerQuery, body: PublicRoomsBody,
                             hearth: Hearth) -> dict:
    """Third-party networks are not bridged into the directory: only Matrix rooms are listed,
    so asking for one network's rooms finds none."""
    if body.third_party_instance_id is not None and not body.include_all_networks:
        return {"chunk": [], "total_room_count_estimate": 0}
    f = body.filter or PublicRoomsFilter()
    page = await hearth.rooms.aliases.public_rooms(limit=body.limit, since=body.since, search_term=f.generic_search_term,
                                           room_types=f.room_types, server=query.server)
    return page.to_json()
