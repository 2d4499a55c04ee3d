"""GET /_matrix/client/v1/mutual_rooms (mutual_rooms.yaml, spec v1.19, MSC2666), and its unstable
path, which clients that know the MSC call."""
from __future__ import annotations

from pydantic import Field
from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..routing import QueryModel, endpoint

bp = Blueprint("client_mutual_rooms", __name__)


class MutualRoomsQuery(QueryModel):
    model_config = {"extra": "ignore", "populate_by_name": True}
    user_id: str
    from_: str | None = Field(None, alias="from")


@endpoint(bp, "GET", "/mutual_rooms", prefixes=("/_matrix/client/v1",))
async def get_mutual_rooms(me: Requester, query: MutualRoomsQuery, hearth: Hearth) -> dict:
    return await hearth.reading.rooms.mutual_rooms(me.user_id, query.user_id, query.from_)


@endpoint(bp, "GET", "/user/mutual_rooms", prefixes=("/_matrix/client/unstable/uk.half-shot.msc2666",))
async def get_mutual_rooms_unstable(me: Requester, query: MutualRoomsQuery, hearth: Hearth) -> dict:
    return await hearth.reading.rooms.mutual_rooms(me.user_id, query.user_id, query.from_)
