"""Admin API, rooms (Synapse docs/admin_api/rooms.md): list, details, members, state, block,
delete (v1 waits, v2 runs in the background) and the deletion status."""
from __future__ import annotations

from pydantic import StrictBool, StrictStr
from quart import Blueprint

from ....hearth import Hearth
from ...services.admin_rooms import DEFAULT_MESSAGE, DEFAULT_NEW_ROOM_NAME, DeleteRequest
from ...services.auth import Requester
from . import AdminBody, admin_endpoint, query_bool, query_dir, query_int

bp = Blueprint("admin_rooms", __name__)


@admin_endpoint(bp, "GET", "/v1/rooms")
async def list_rooms(me: Requester, raw_args, hearth: Hearth) -> dict:
    page = await hearth.admin.rooms.list_rooms(
        offset=query_int(raw_args.get("from"), "from", 0),
        limit=query_int(raw_args.get("limit"), "limit", 100),
        order_by=raw_args.get("order_by") or "name",
        backwards=query_dir(raw_args.get("dir")),
        search_term=raw_args.get("search_term") or None,
        public_rooms=query_bool(raw_args.get("public_rooms"), "public_rooms", None),
        empty_rooms=query_bool(raw_args.get("empty_rooms"), "empty_rooms", None),
    )
    return page.to_json()


@admin_endpoint(bp, "GET", "/v1/rooms/{room_id}")
async def get_room(me: Requester, room_id: str, hearth: Hearth) -> dict:
    return await hearth.admin.rooms.room_details_json(room_id)


@admin_endpoint(bp, "GET", "/v1/rooms/{room_id}/members")
async def get_room_members(me: Requester, room_id: str, hearth: Hearth) -> dict:
    members = await hearth.admin.rooms.members(room_id)
    return {"members": members, "total": len(members)}


@admin_endpoint(bp, "GET", "/v1/rooms/{room_id}/state")
async def get_room_state(me: Requester, room_id: str, raw_args, hearth: Hearth) -> dict:
    return {"state": await hearth.admin.rooms.state(room_id, raw_args.get("type") or None)}


@admin_endpoint(bp, "GET", "/v1/rooms/{room_id}/block")
async def get_block(me: Requester, room_id: str, hearth: Hearth) -> dict:
    blocked, by = await hearth.admin.rooms.block_status(room_id)
    return {"block": True, "user_id": by} if blocked else {"block": False}


class BlockBody(AdminBody):
    block: StrictBool


@admin_endpoint(bp, "PUT", "/v1/rooms/{room_id}/block")
async def set_block(me: Requester, room_id: str, body: BlockBody, hearth: Hearth) -> dict:
    await hearth.admin.rooms.set_blocked(room_id, body.block, by=me.user_id)
    return {"block": body.block}


class DeleteRoomBody(AdminBody):
    block: StrictBool | None = False
    purge: StrictBool | None = True
    force_purge: StrictBool | None = False
    new_room_user_id: StrictStr | None = None
    room_name: StrictStr | None = None
    message: StrictStr | None = None


def _delete_request(body: DeleteRoomBody) -> DeleteRequest:
    return DeleteRequest(
        block=bool(body.block),
        purge=bool(body.purge),
        force_purge=bool(body.force_purge),
        new_room_user_id=body.new_room_user_id,
        room_name=body.room_name or DEFAULT_NEW_ROOM_NAME,
        message=body.message or DEFAULT_MESSAGE,
    )


@admin_endpoint(bp, "DELETE", "/v2/rooms/{room_id}")
async def delete_room_v2(me: Requester, room_id: str, body: DeleteRoomBody, hearth: Hearth) -> dict:
    delete_id = await hearth.admin.rooms.start_delete(room_id, _delete_request(body), by=me.user_id)
    return {"delete_id": delete_id}


@admin_endpoint(bp, "DELETE", "/v1/rooms/{room_id}")
async def delete_room_v1(me: Requester, room_id: str, body: DeleteRoomBody, hearth: Hearth) -> dict:
    result = await hearth.admin.rooms.delete_now(room_id, _delete_request(body), by=me.user_id)
    return result.to_json()


@admin_endpoint(bp, "GET", "/v2/rooms/delete_status/{delete_id}")
async def delete_status(me: Requester, delete_id: str, hearth: Hearth) -> dict:
    return (await hearth.admin.rooms.delete_status(delete_id)).to_json()


@admin_endpoint(bp, "GET", "/v2/rooms/{room_id}/delete_status")
async def room_delete_statuses(me: Requester, room_id: str, hearth: Hearth) -> dict:
    return {"results": [s.to_json() for s in await hearth.admin.rooms.delete_statuses(room_id)]}
