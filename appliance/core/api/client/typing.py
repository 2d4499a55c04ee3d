"""PUT /rooms/{roomId}/typing/{userId} (typing.yaml)."""
from __future__ import annotations

from pydantic import StrictBool, StrictInt
from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import Forbidden
from ...services.auth import Requester
from ..routing import BodyModel, PathModel, endpoint

bp = Blueprint("client_typing", __name__)


class TypingPath(PathModel):
    room_id: str
    user_id: str


class TypingBody(BodyModel):
    typing: StrictBool
    timeout: StrictInt | None = None


@endpoint(bp, "PUT", "/rooms/{room_id}/typing/{user_id}", rate_limited=True)
async def set_typing(me: Requester, path: TypingPath, body: TypingBody, hearth: Hearth) -> dict:
    if path.user_id != me.user_id:
        raise Forbidden("You cannot set the typing state of another user")
    await hearth.reading.typing.set_typing_in_room(path.room_id, me.user_id, body.typing, body.timeout)
    return {}
