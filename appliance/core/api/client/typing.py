"""PUT /rooms/{roomId}/typing/{userId} (typing.yaml)."""
from __future__ import annotations

from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import BadJson, Forbidden
from ...services.auth import Requester
from ..routing import PathModel, endpoint

bp = Blueprint("client_typing", __name__)


class TypingPath(PathModel):
    room_id: str
    user_id: str


@endpoint(bp, "PUT", "/rooms/{room_id}/typing/{user_id}", rate_limited=True)
async def set_typing(me: Requester, path: TypingPath, body: dict, hearth: Hearth) -> dict:
    if path.user_id != me.user_id:
        raise Forbidden("You cannot set the typing state of another user")
    typing = body.get("typing")
    if not isinstance(typing, bool):
        raise BadJson("typing must be a boolean")
    timeout = body.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int)):
        raise BadJson("timeout must be an integer")
    await hearth.rooms.typing.set_typing_in_room(path.room_id, me.user_id, typing, timeout)
    return {}
