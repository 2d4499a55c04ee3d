"""Room membership: joining.yaml, inviting.yaml, leaving.yaml, kicking.yaml, banning.yaml,
knocking.yaml."""
from __future__ import annotations

from pydantic import BaseModel
from quart import Blueprint

from ....hearth import Hearth
from ...protocol import ids
from ...protocol.errors import InvalidParam
from ...services.auth import Requester
from ...services.rooms.membership import client_extra
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


def _is_remote(hearth: Hearth, identifier: str) -> bool:
    try:
        return ids.server_name_of(identifier) != hearth.server_name
    except ValueError:
        return False


async def _join(hearth: Hearth, me: Requester, room_id_or_alias: str, via: list[str], reason: str | None,
                extra: dict | None = None) -> str:
    """A room we hold is joined here; one held elsewhere through a resident server (federation)."""
    if hearth.settings.federation_enabled and not me.is_guest:
        joins = hearth.federation.joins
        room_id = room_id_or_alias
        if room_id_or_alias.startswith("#") and _is_remote(hearth, room_id_or_alias):
            room_id, servers = await hearth.federation.lookups.alias(room_id_or_alias)
            via = [*via, *servers]
        if room_id.startswith("!") and not await joins.holds_room(room_id):
            await hearth.rooms.membership.membership_check(room_id, me.user_id, "join")
            content = {**client_extra(extra), **await hearth.rooms.membership.member_content(me.user_id, "join", reason)}
            return await joins.join(me.user_id, room_id, via, content)
    return await hearth.rooms.membership.join(me.user_id, room_id_or_alias, reason=reason, is_guest=me.is_guest,
                                              extra=extra)


def _via(query: ViaQuery) -> list[str]:
    out: list[str] = []
    for value in (query.via, query.server_name):
        out += [value] if isinstance(value, str) else list(value or [])
    return out


@endpoint(bp, "POST", "/rooms/{room_id}/join", rate_limited=True, forbid_suspended=True)
async def join_room_by_id(me: Requester, path: RoomPath, body: ReasonBody, hearth: Hearth) -> dict:
    if not path.room_id.startswith("!"):
        raise InvalidParam("This endpoint takes a room ID; use /join/{roomIdOrAlias} for aliases")
    return {"room_id": await _join(hearth, me, path.room_id, [], body.reason, body.model_extra)}


@endpoint(bp, "POST", "/join/{room_id_or_alias}", rate_limited=True, forbid_suspended=True)
async def join_room(me: Requester, path: RoomOrAliasPath, query: ViaQuery, body: ReasonBody,
                    hearth: Hearth) -> dict:
    """`via` (and the older `server_name`) name servers to join a remote room through."""
    return {"room_id": await _join(hearth, me, path.room_id_or_alias, _via(query), body.reason, body.model_extra)}


@endpoint(bp, "POST", "/rooms/{room_id}/invite", rate_limited=True, allow_guest=False, forbid_suspended=True)
async def invite_user(me: Requester, path: RoomPath, body: TargetBody, hearth: Hearth) -> dict:
    await hearth.rooms.membership.invite(path.room_id, me.user_id, body.user_id, reason=body.reason,
                                         extra=body.model_extra)
    if hearth.settings.federation_enabled and _is_remote(hearth, body.user_id):
        await hearth.federation.joins.send_invite(path.room_id, body.user_id)
    return {}


@endpoint(bp, "POST", "/rooms/{room_id}/leave", rate_limited=True)
async def leave_room(me: Requester, path: RoomPath, body: ReasonBody, hearth: Hearth) -> dict:
    if hearth.accounts.server_notices is not None:
        await hearth.accounts.server_notices.check_may_leave(path.room_id, me.user_id)
    if hearth.settings.federation_enabled and not await hearth.federation.joins.holds_room(path.room_id):
        membership = await hearth.federation.joins.local_membership(path.room_id, me.user_id)
        if membership in ("invite", "knock"):  # a remote room's invite: rejected through its servers
            await hearth.federation.joins.leave_remote(me.user_id, path.room_id, body.reason)
            return {}
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
    if hearth.settings.federation_enabled:  # a room held elsewhere: knocked on through its servers
        joins, room_id, via = hearth.federation.joins, path.room_id_or_alias, _via(query)
        if room_id.startswith("#") and _is_remote(hearth, room_id):
            room_id, servers = await hearth.federation.lookups.alias(room_id)
            via = [*via, *servers]
        if room_id.startswith("!") and not await joins.holds_room(room_id):
            await hearth.rooms.membership.membership_check(room_id, me.user_id, "knock")
            return {"room_id": await joins.knock(me.user_id, room_id, via, body.reason)}
    room_id = await hearth.rooms.membership.knock(me.user_id, path.room_id_or_alias, reason=body.reason)
    return {"room_id": room_id}
