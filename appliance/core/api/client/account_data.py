"""Account data and tags (account-data.yaml, tags.yaml)."""
from __future__ import annotations

from pydantic import StrictFloat, StrictInt
from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import Forbidden, InvalidParam, NotFound
from ...services.auth import Requester
from ..routing import BodyModel, PathModel, endpoint

bp = Blueprint("client_account_data", __name__)


class GlobalPath(PathModel):
    user_id: str
    type: str


class RoomPath(PathModel):
    user_id: str
    room_id: str
    type: str


class TagsPath(PathModel):
    user_id: str
    room_id: str


class TagPath(PathModel):
    user_id: str
    room_id: str
    tag: str


def _own(me: Requester, user_id: str) -> None:
    if user_id != me.user_id:
        raise Forbidden("Cannot access another user's account data")


def _room_id(room_id: str) -> str:
    if not room_id.startswith("!") or len(room_id) < 2:
        raise InvalidParam(f"{room_id} is not a valid room ID")
    return room_id


@endpoint(bp, "PUT", "/user/{user_id}/account_data/{type}")
async def set_account_data(me: Requester, path: GlobalPath, body: dict, hearth: Hearth) -> dict:
    _own(me, path.user_id)
    await hearth.accounts.account_data.set_by_client(me.user_id, path.type, body)
    return {}


@endpoint(bp, "GET", "/user/{user_id}/account_data/{type}")
async def get_account_data(me: Requester, path: GlobalPath, hearth: Hearth) -> dict:
    _own(me, path.user_id)
    content = await hearth.accounts.account_data.get(me.user_id, path.type)
    if content is None:
        raise NotFound("Account data not found")
    return content


@endpoint(bp, "PUT", "/user/{user_id}/rooms/{room_id}/account_data/{type}")
async def set_account_data_per_room(me: Requester, path: RoomPath, body: dict, hearth: Hearth) -> dict:
    _own(me, path.user_id)
    await hearth.accounts.account_data.set_by_client(me.user_id, path.type, body, _room_id(path.room_id))
    return {}


@endpoint(bp, "GET", "/user/{user_id}/rooms/{room_id}/account_data/{type}")
async def get_account_data_per_room(me: Requester, path: RoomPath, hearth: Hearth) -> dict:
    _own(me, path.user_id)
    content = await hearth.accounts.account_data.get(me.user_id, path.type, _room_id(path.room_id))
    if content is None:
        raise NotFound("Account data not found")
    return content


@endpoint(bp, "GET", "/user/{user_id}/rooms/{room_id}/tags")
async def get_room_tags(me: Requester, path: TagsPath, hearth: Hearth) -> dict:
    _own(me, path.user_id)
    return {"tags": await hearth.accounts.account_data.get_tags(me.user_id, _room_id(path.room_id))}


class TagBody(BodyModel):
    """A tag's content: its order, and what else the client keeps there."""
    order: StrictInt | StrictFloat | None = None


@endpoint(bp, "PUT", "/user/{user_id}/rooms/{room_id}/tags/{tag}")
async def set_room_tag(me: Requester, path: TagPath, body: TagBody, hearth: Hearth) -> dict:
    """A tag is an entry in the room's m.tag account data; nothing tag-specific is stored."""
    _own(me, path.user_id)
    if len(path.tag.encode()) > 255:
        raise InvalidParam("Tag names are at most 255 bytes")
    await hearth.accounts.account_data.set_room_tag(me.user_id, _room_id(path.room_id), path.tag,
                                           body.model_dump(exclude_unset=True))
    return {}


@endpoint(bp, "DELETE", "/user/{user_id}/rooms/{room_id}/tags/{tag}")
async def delete_room_tag(me: Requester, path: TagPath, hearth: Hearth) -> dict:
    _own(me, path.user_id)
    await hearth.accounts.account_data.remove_room_tag(me.user_id, _room_id(path.room_id), path.tag)
    return {}

