"""GET /joined_rooms (list_joined_rooms.yaml)."""
from __future__ import annotations

from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..routing import endpoint

bp = Blueprint("client_joined_rooms", __name__)


@endpoint(bp, "GET", "/joined_rooms")
async def get_joined_rooms(me: Requester, hearth: Hearth) -> dict:
    return {"joined_rooms": await hearth.reading.rooms.joined_rooms(me.user_id)}
