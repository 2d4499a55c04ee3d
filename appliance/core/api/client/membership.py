"""Room membership: joining.yaml, inviting.yaml, leaving.yaml, kicking.yaml, banning.yaml,
knocking.yaml."""
from __future__ import annotations

from pydantic import BaseModel
from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import InvalidParam
from ...services.auth import Requester
from ..routing import ACCESS_TOKEN, PathModel, QueryModel, endpoint

bp = Blueprint("client_membership", __name__)


class RoomPath(PathModel):
    room_id: str


class RoomOrAliasPath(PathModel):
    room_id_or_alias: str


class ViaQuery(QueryModel):
    via: list[str] | str | None = None
    server_name: list[str] | str | None = None


class ReasonBody(BaseModel, extra="allow"):
    """`reason`; a join keeps a client's other keys in its member event."""
    reason: str | None = None
    third_party_signed: dict | None = None


class TargetBody(BaseModel, extra="allow"):
    user_id: str
    reason: str | None = None


@endpoint(bp, "POST", "/rooms/{room_id}/join", rate_limited=True, forbid_suspended=True)
async def join_room_by_id(me: Requester, path: RoomPath, body: ReasonBody, hearth: Hearth) -> dict:
    if not path.room_id.startswith("!"):
        raise InvalidParam("This endpoint takes a room ID; use /join/{roomIdOrAlias} for aliases")
    room_id = await hearth.rooms.membership.join(me.user_id, path.room_id, reason=body.reason, is_guest=me.is_guest,
                                                 extra=body.model_extra)
    return {"room_id": room_id}


@endpoint(bp, "POST", "/join/{room_id_or_alias}", rate_limited=True, forbid_suspended=True)
async def join_room(me: Requester, path: RoomOrAliasPath, query: ViaQuery, body: ReasonBody,
                    hearth: Hearth) -> dict:
    """`via` names servers to join through; every room we can join is already on this server."""
    room_id = await hearth.rooms.membership.join(me.user_id, path.room_id_or_alias, reason=body.reason,
                                                 is_guest=me.is_guest, extra=body.model_extra)
    return {"room_id": room_id}


@endpoint(bp, "POST", "/rooms/{room_id}/invite", rate_limited=True, allow_guest=False, forbid_suspended=True)
async def invite_user(me: Requester, path: RoomPath, body: TargetBody, hearth: Hearth) -> dict:
    await hearth.rooms.membership.invite(path.room_id, me.user_id, body.user_id, reason=body.reason,
                                         extra=body.model_extra)
    return {}


@endpoint(bp, "POST", "/rooms/{room_id}/leave", rate_limited=True)
async def leave_room(me: Requester, path: RoomPath, body: ReasonBody, hearth: Hearth) -> dict:
    if hearth.accounts.server_notices is not None:
        await hearth.accounts.server_notices.check_may_leave(path.room_id, me.user_id)
    await hearth.rooms.membership.leave(path.room_id, me.user_id, reason=body.reason)
    return {}


@endpoint(bp, "POST", "/rooms/{room_id}/forget", rate_limited=True, allow_guest=False)
async def forget_room(me: Requester, path: RoomPath, hearth: Hearth) -> dict:
    await hearth.rooms.membership.forget(path.room_id, me.user_id)
    return {}


@endpoint(bp, "POST", "/rooms/{room_id}/kick", rate_limited=True, allow_guest=False)
async def kick(me: Requester, path: RoomPath, body: TargetBody, hearth: Hearth) -> dict:
    await hearth.rooms.membership.kick(path.room_id, me.user_id, body.user_id, reason=body.reason)
    return {}


@endpoint(bp, "POST", "/rooms/{room_id}/ban", rate_limited=True, allow_guest=False)
async def ban(me: Requester, path: RoomPath, body: TargetBody, hearth: Hearth) -> dict:
    await hearth.rooms.membership.ban(path.room_id, me.user_id, body.user_id, reason=body.reason)
    return {}


@endpoint(bp, "POST", "/rooms/{room_id}/unban", rate_limited=True, allow_guest=False)
async def unban(me: Requester, path: RoomPath, body: TargetBody, hearth: Hearth) -> dict:
    await hearth.rooms.membership.unban(path.room_id, me.user_id, body.user_id, reason=body.reason)
    return {}


@endpoint(bp, "POST", "/knock/{room_id_or_alias}", rate_limited=True, allow_guest=False,
          forbid_suspended=True)
async def knock_room(me: Requester, path: RoomOrAliasPath, query: ViaQuery, body: ReasonBody,
                     hearth: Hearth) -> dict:
    room_id = await hearth.rooms.membership.knock(me.user_id, path.room_id_or_alias, reason=body.reason)
    return {"room_id": room_id}
