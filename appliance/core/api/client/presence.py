"""PUT/GET /presence/{userId}/status (presence.yaml)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import Forbidden
from ...services.auth import Requester
from ..routing import PathModel, endpoint

bp = Blueprint("client_presence", __name__)


class PresencePath(PathModel):
    user_id: str


class PresenceBody(BaseModel):
    presence: Literal["online", "offline", "unavailable"]
    status_msg: str | None = None


@endpoint(bp, "PUT", "/presence/{user_id}/status")
async def set_presence(me: Requester, path: PresencePath, body: PresenceBody, hearth: Hearth) -> dict:
    if path.user_id != me.user_id:
        raise Forbidden("You cannot set the presence state of another user")
    await hearth.accounts.presence.set_presence(me.user_id, body.presence, body.status_msg)
    return {}


@endpoint(bp, "GET", "/presence/{user_id}/status")
async def get_presence(me: Requester, path: PresencePath, hearth: Hearth) -> dict:
    return await hearth.accounts.presence.get_presence(me.user_id, path.user_id)
