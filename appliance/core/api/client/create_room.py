"""POST /createRoom (create_room.yaml)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from quart import Blueprint

from ....hearth import Hearth
from ...protocol import ids
from ...protocol.errors import MatrixError
from ...services.auth import Requester
from ...services.rooms.create import CreateRoomRequest, InitialStateEvent
from ..routing import ACCESS_TOKEN, endpoint

bp = Blueprint("client_create_room", __name__)


class StateEventBody(BaseModel):
    type: str
    state_key: str = ""
    content: dict[str, Any]


class CreateRoomBody(BaseModel, extra="allow"):
    visibility: Literal["public", "private"] | None = None
    room_alias_name: str | None = None
    name: str | None = None
    topic: str | None = None
    invite: list[str] = Field(default_factory=list)
    invite_3pid: list[dict[str, Any]] = Field(default_factory=list)
    room_version: str | None = None
    creation_content: dict[str, Any] | None = None
    initial_state: list[StateEventBody] = Field(default_factory=list)
    preset: Literal["private_chat", "public_chat", "trusted_private_chat"] | None = None
    is_direct: bool = False
    power_level_content_override: dict[str, Any] | None = None


@endpoint(bp, "POST", "/createRoom", auth=ACCESS_TOKEN, rate_limited=True, allow_guest=False)
async def create_room(me: Requester, body: CreateRoomBody, hearth: Hearth) -> dict:
    request = CreateRoomRequest(
        visibility=body.visibility,
        room_alias_name=body.room_alias_name,
        name=body.name,
        topic=body.topic,
        invite=body.invite,
        invite_3pid=body.invite_3pid,
        room_version=body.room_version,
        creation_content=body.creation_content,
        initial_state=[InitialStateEvent(e.type, e.content, e.state_key) for e in body.initial_state],
        preset=body.preset,
        is_direct=body.is_direct,
        power_level_content_override=body.power_level_content_override,
    )
    room_id = await hearth.rooms.creation.create_room(me.user_id, request, appservice_id=me.appservice_id,
                                                      on_created=lambda r, invited: _invite_remote(hearth, r, invited))
    return {"room_id": room_id}


async def _invite_remote(hearth: Hearth, room_id: str, invitees: list[str]) -> None:
    """The invites of people on other servers go to their servers, as POST /invite sends them.
    The room is made either way; the first refusal is the answer (as for a blocked invite)."""
    if not hearth.settings.federation_enabled:
        return
    refused: MatrixError | None = None
    for user_id in invitees:
        if ids.server_name_of(user_id) == hearth.server_name:
            continue
        try:
            await hearth.federation.joins.send_invite(room_id, user_id)
        except MatrixError as exc:
            refused = refused or exc
    if refused is not None:
        raise refused
