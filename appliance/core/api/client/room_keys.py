"""Server-side key backups (key_backup.yaml)."""
from __future__ import annotations

from typing import Any

from pydantic import StrictBool, StrictInt, StrictStr
from quart import Blueprint

from ...services.auth import Requester
from ...protocol.errors import MissingParam
from ..routing import ACCESS_TOKEN, BodyModel, PathModel, QueryModel, endpoint
from ....hearth import Hearth

bp = Blueprint("client_room_keys", __name__)


class VersionPath(PathModel):
    version: str


class VersionQuery(QueryModel):
    version: str | None = None


class RoomPath(PathModel):
    room_id: str


class SessionPath(PathModel):
    room_id: str
    session_id: str


class VersionBody(BodyModel):
    """The backup's algorithm and its auth_data (which the algorithm defines)."""
    algorithm: StrictStr
    auth_data: dict[str, Any]
    body_errors = {"*:missing": MissingParam}


class UpdateVersionBody(VersionBody):
    version: StrictStr | None = None


class KeyBackupDataBody(BodyModel):
    first_message_index: StrictInt
    forwarded_count: StrictInt
    is_verified: StrictBool
    session_data: dict[str, Any]


class RoomKeyBackupBody(BodyModel):
    sessions: dict[str, KeyBackupDataBody]


class RoomKeysBody(BodyModel):
    rooms: dict[str, RoomKeyBackupBody]


@endpoint(bp, "POST", "/room_keys/version", auth=ACCESS_TOKEN)
async def post_room_keys_version(me: Requester, body: VersionBody, hearth: Hearth) -> dict:
    return {"version": await hearth.e2ee.key_backup.create_version(me.user_id, body.model_dump(exclude_unset=True))}


@endpoint(bp, "GET", "/room_keys/version", auth=ACCESS_TOKEN)
async def get_room_keys_version_current(me: Requester, hearth: Hearth) -> dict:
    return await hearth.e2ee.key_backup.get_version(me.user_id, None)


@endpoint(bp, "GET", "/room_keys/version/{version}", auth=ACCESS_TOKEN)
async def get_room_keys_version(me: Requester, path: VersionPath, hearth: Hearth) -> dict:
    return await hearth.e2ee.key_backup.get_version(me.user_id, path.version)


@endpoint(bp, "PUT", "/room_keys/version/{version}", auth=ACCESS_TOKEN)
async def put_room_keys_version(me: Requester, path: VersionPath, body: UpdateVersionBody, hearth: Hearth) -> dict:
    await hearth.e2ee.key_backup.update_version(me.user_id, path.version, body.model_dump(exclude_unset=True))
    return {}


@endpoint(bp, "DELETE", "/room_keys/version/{version}", auth=ACCESS_TOKEN)
async def delete_room_keys_version(me: Requester, path: VersionPath, hearth: Hearth) -> dict:
    await hearth.e2ee.key_backup.delete_version(me.user_id, path.version)
    return {}


@endpoint(bp, "PUT", "/room_keys/keys", auth=ACCESS_TOKEN)
async def put_room_keys(me: Requester, query: VersionQuery, body: RoomKeysBody, hearth: Hearth) -> dict:
    return await hearth.e2ee.key_backup.put_keys(me.user_id, query.version, body.model_dump(exclude_unset=True)["rooms"])


@endpoint(bp, "GET", "/room_keys/keys", auth=ACCESS_TOKEN)
async def get_room_keys(me: Requester, query: VersionQuery, hearth: Hearth) -> dict:
    return await hearth.e2ee.key_backup.get_keys(me.user_id, query.version)


@endpoint(bp, "DELETE", "/room_keys/keys", auth=ACCESS_TOKEN)
async def delete_room_keys(me: Requester, query: VersionQuery, hearth: Hearth) -> dict:
    return await hearth.e2ee.key_backup.delete_keys(me.user_id, query.version)


@endpoint(bp, "PUT", "/room_keys/keys/{room_id}", auth=ACCESS_TOKEN)
async def put_room_keys_by_room_id(me: Requester, path: RoomPath, query: VersionQuery, body: RoomKeyBackupBody,
                                   hearth: Hearth) -> dict:
    room = body.model_dump(exclude_unset=True)
    return await hearth.e2ee.key_backup.put_keys(me.user_id, query.version, {path.room_id: room})


@endpoint(bp, "GET", "/room_keys/keys/{room_id}", auth=ACCESS_TOKEN)
async def get_room_keys_by_room_id(me: Requester, path: RoomPath, query: VersionQuery, hearth: Hearth) -> dict:
    return await hearth.e2ee.key_backup.get_keys(me.user_id, query.version, path.room_id)


@endpoint(bp, "DELETE", "/room_keys/keys/{room_id}", auth=ACCESS_TOKEN)
async def delete_room_keys_by_room_id(me: Requester, path: RoomPath, query: VersionQuery, hearth: Hearth) -> dict:
    return await hearth.e2ee.key_backup.delete_keys(me.user_id, query.version, path.room_id)


@endpoint(bp, "PUT", "/room_keys/keys/{room_id}/{session_id}", auth=ACCESS_TOKEN)
async def put_room_key_by_session_id(me: Requester, path: SessionPath, query: VersionQuery,
                                     body: KeyBackupDataBody, hearth: Hearth) -> dict:
    return await hearth.e2ee.key_backup.put_keys(
        me.user_id, query.version, {path.room_id: {"sessions": {path.session_id: body.model_dump(exclude_unset=True)}}})


@endpoint(bp, "GET", "/room_keys/keys/{room_id}/{session_id}", auth=ACCESS_TOKEN)
async def get_room_key_by_session_id(me: Requester, path: SessionPath, query: VersionQuery, hearth: Hearth) -> dict:
    return await hearth.e2ee.key_backup.get_keys(me.user_id, query.version, path.room_id, path.session_id)


@endpoint(bp, "DELETE", "/room_keys/keys/{room_id}/{session_id}", auth=ACCESS_TOKEN)
async def delete_room_key_by_session_id(me: Requester, path: SessionPath, query: VersionQuery,
                                        hearth: Hearth) -> dict:
    return await hearth.e2ee.key_backup.delete_keys(me.user_id, query.version, path.room_id, path.session_id)
