"""POST /rooms/{roomId}/upgrade (room_upgrades.yaml)."""
from __future__ import annotations

from pydantic import BaseModel, Field
from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..routing import PathModel, endpoint

bp = Blueprint("client_upgrade", __name__)


class UpgradePath(PathModel):
    room_id: str


class UpgradeBody(BaseModel, extra="allow"):
    new_version: str
    additional_creators: list[str] = Field(default_factory=list)


@endpoint(bp, "POST", "/rooms/{room_id}/upgrade", rate_limited=True, allow_guest=False)
async def upgrade_room(me: Requester, path: UpgradePath, body: UpgradeBody, hearth: Hearth) -> dict:
    new_room = await hearth.rooms.upgrades.upgrade_room(path.room_id, me.user_id, body.new_version, body.additional_creators)
    return {"replacement_room": new_room}
