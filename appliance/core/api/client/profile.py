"""Profiles (profile.yaml): displayname and avatar_url live on the user and are copied into the
user's m.room.member events; m.tz and custom fields are stored beside them."""
from __future__ import annotations

from quart import Blueprint

from ...services.auth import Requester
from ..routing import ACCESS_TOKEN, OPTIONAL, PathModel, endpoint
from ....hearth import Hearth

bp = Blueprint("client_profile", __name__)


class UserPath(PathModel):
    user_id: str


class FieldPath(PathModel):
    user_id: str
    key_name: str


@endpoint(bp, "GET", "/profile/{user_id}", auth=OPTIONAL)
async def get_user_profile(path: UserPath, hearth: Hearth) -> dict:
    if hearth.settings.federation_enabled and _remote(hearth, path.user_id):
        return await hearth.federation.lookups.profile(path.user_id)
    return await hearth.accounts.profiles.get_profile(path.user_id)


def _remote(hearth: Hearth, identifier: str) -> bool:
    from ...protocol import ids

    try:
        return ids.server_name_of(identifier) != hearth.server_name
    except ValueError:
        return False


@endpoint(bp, "GET", "/profile/{user_id}/{key_name}", auth=OPTIONAL)
async def get_profile_field(path: FieldPath, hearth: Hearth) -> dict:
    if hearth.settings.federation_enabled and _remote(hearth, path.user_id):
        return await hearth.federation.lookups.profile(path.user_id, path.key_name)
    return await hearth.accounts.profiles.get_profile_field(path.user_id, path.key_name)


@endpoint(bp, "PUT", "/profile/{user_id}/{key_name}", auth=ACCESS_TOKEN, rate_limited=True, forbid_suspended=True)
async def set_profile_field(me: Requester, path: FieldPath, body: dict, hearth: Hearth) -> dict:
    await hearth.accounts.profiles.set_profile_field(me, path.user_id, path.key_name, body)
    return {}


@endpoint(bp, "DELETE", "/profile/{user_id}/{key_name}", auth=ACCESS_TOKEN, rate_limited=True,
          forbid_suspended=True)
async def delete_profile_field(me: Requester, path: FieldPath, hearth: Hearth) -> dict:
    await hearth.accounts.profiles.delete_profile_field(me, path.user_id, path.key_name)
    return {}
