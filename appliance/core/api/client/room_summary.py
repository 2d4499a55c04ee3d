"""GET /_matrix/client/v1/room_summary/{roomIdOrAlias} (room_summary.yaml), and the unstable
MSC3266 forms clients still call (Cinny: /unstable/im.nheko.summary/rooms/{room}/summary)."""
from __future__ import annotations

from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..routing import OPTIONAL, PathModel, endpoint

bp = Blueprint("client_room_summary", __name__)
V1 = ("/_matrix/client/v1",)
UNSTABLE = ("/_matrix/client/unstable/im.nheko.summary",)


class SummaryPath(PathModel):
    room_id_or_alias: str


@endpoint(bp, "GET", "/room_summary/{room_id_or_alias}", auth=OPTIONAL, prefixes=V1)
async def get_room_summary(me: Requester | None, path: SummaryPath, hearth: Hearth) -> dict:
    return await hearth.rooms.summary.summary(me.user_id if me else None, path.room_id_or_alias)


@endpoint(bp, "GET", "/rooms/{room_id_or_alias}/summary", auth=OPTIONAL, prefixes=UNSTABLE)
async def get_room_summary_unstable(me: Requester | None, path: SummaryPath, hearth: Hearth) -> dict:
    return await hearth.rooms.summary.summary(me.user_id if me else None, path.room_id_or_alias)


@endpoint(bp, "GET", "/summary/{room_id_or_alias}", auth=OPTIONAL, prefixes=UNSTABLE)
async def get_room_summary_unstable_short(me: Requester | None, path: SummaryPath, hearth: Hearth) -> dict:
    """The later MSC3266 path (`/summary/{roomIdOrAlias}`)."""
    return await hearth.rooms.summary.summary(me.user_id if me else None, path.room_id_or_alias)
