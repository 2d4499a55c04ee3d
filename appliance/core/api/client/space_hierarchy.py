"""GET /_matrix/client/v1/rooms/{roomId}/hierarchy (space_hierarchy.yaml)."""
from __future__ import annotations

from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..routing import PathModel, QueryModel, endpoint

bp = Blueprint("client_space_hierarchy", __name__)
V1 = ("/_matrix/client/v1",)


class HierarchyPath(PathModel):
    room_id: str


class HierarchyQuery(QueryModel):
    suggested_only: bool = False
    limit: int | None = None
    max_depth: int | None = None
    from_: str | None = None

    model_config = {"extra": "ignore", "populate_by_name": True,
                    "alias_generator": lambda name: "from" if name == "from_" else name}


@endpoint(bp, "GET", "/rooms/{room_id}/hierarchy", prefixes=V1)
async def get_space_hierarchy(me: Requester, path: HierarchyPath, query: HierarchyQuery, hearth: Hearth) -> dict:
    return await hearth.rooms.spaces.hierarchy(me.user_id, path.room_id, suggested_only=query.suggested_only,
                                         max_depth=query.max_depth, limit=query.limit, from_=query.from_)
