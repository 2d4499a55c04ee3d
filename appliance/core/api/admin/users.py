"""Admin API, users (Synapse docs/admin_api/user_admin_api.md) and the spec's admin whois."""
from __future__ import annotations

from typing import Any

from pydantic import StrictBool, StrictStr
from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import Forbidden, InvalidParam, MissingParam
from ...services.admin_users import UserChanges
from ...services.auth import Requester
from ..routing import CLIENT_PREFIXES, endpoint
from . import AdminBody, admin_endpoint, query_bool, query_dir, query_int

bp = Blueprint("admin_users", __name__)


class PutUserBody(AdminBody):
    password: StrictStr | None = None
    logout_devices: StrictBool | None = True
    displayname: StrictStr | None = None
    avatar_url: StrictStr | None = None
    admin: StrictBool | None = None
    deactivated: StrictBool | None = None
    locked: StrictBool | None = None
    threepids: list[Any] | None = None
    external_ids: list[Any] | None = None
    user_type: Any = None


class ResetPasswordBody(AdminBody):
    new_password: StrictStr
    logout_devices: StrictBool | None = True


class DeactivateBody(AdminBody):
    erase: StrictBool | None = False


class SetAdminBody(AdminBody):
    admin: StrictBool


class DeleteDevicesBody(AdminBody):
    devices: list[StrictStr]
    body_errors = {"*": MissingParam}  # Synapse's answer to anything but a list of device IDs


@admin_endpoint(bp, "GET", "/v2/users")
async def list_users(me: Requester, raw_args, hearth: Hearth) -> dict:
    # v2: deactivated=true includes deactivated users; otherwise they are hidden.
    include = query_bool(raw_args.get("deactivated"), "deactivated", False)
    return await _list_users(raw_args, hearth, deactivated=None if include else False)


@admin_endpoint(bp, "GET", "/v3/users")
async def list_users_v3(me: Requester, raw_args, hearth: Hearth) -> dict:
    # v3: true only deactivated users, false only active ones, absent both.
    return await _list_users(raw_args, hearth, deactivated=query_bool(raw_args.get("deactivated"), "deactivated", None))


async def _list_users(args, hearth: Hearth, *, deactivated: bool | None) -> dict:
    page = await hearth.admin.users.list_users(
        offset=query_int(args.get("from"), "from", 0),
        limit=query_int(args.get("limit"), "limit", 100),
        name=args.get("name") or None,
        user_id=args.get("user_id") or None,
        guests=bool(query_bool(args.get("guests"), "guests", True)),
        admins=query_bool(args.get("admins"), "admins", None),
        deactivated=deactivated,
        order_by=args.get("order_by") or "name",
        backwards=query_dir(args.get("dir")),
    )
    return page.to_json()


@admin_endpoint(bp, "GET", "/v2/users/{user_id}")
async def get_user(me: Requester, user_id: str, hearth: Hearth) -> dict:
    return (await hearth.admin.users.get_user(user_id)).to_json(details=True)


@admin_endpoint(bp, "PUT", "/v2/users/{user_id}")
async def put_user(me: Requester, user_id: str, body: PutUserBody, hearth: Hearth) -> tuple[dict, int]:
    for key in ("threepids", "external_ids"):
        if getattr(body, key):
            raise InvalidParam(f"This server does not keep {key}")
    if body.user_type is not None:
        raise InvalidParam("This server has no user types")
    if body.locked:
        raise InvalidParam("This server does not lock accounts")
    if body.admin is False and user_id == me.user_id:
        raise InvalidParam("You may not demote yourself.")
    if body.deactivated and user_id == me.user_id:
        raise InvalidParam("You may not deactivate yourself.")
    changes = UserChanges(
        password=body.password,
        logout_devices=body.logout_devices,
        displayname=body.displayname,
        avatar_url=body.avatar_url,
        admin=body.admin,
        deactivated=body.deactivated,
    )
    user, created = await hearth.admin.users.upsert_user(user_id, changes)
    return user.to_json(details=True), 201 if created else 200


@admin_endpoint(bp, "POST", "/v1/reset_password/{user_id}")
async def reset_password(me: Requester, user_id: str, body: ResetPasswordBody, hearth: Hearth) -> dict:
    if not body.new_password:
        raise MissingParam("Missing param new_password")
    await hearth.admin.users.set_password(user_id, body.new_password, logout_devices=bool(body.logout_devices))
    return {}


@admin_endpoint(bp, "POST", "/v1/deactivate/{user_id}")
async def deactivate(me: Requester, user_id: str, body: DeactivateBody, hearth: Hearth) -> dict:
    await hearth.admin.users.deactivate(user_id, erase=bool(body.erase))
    return {"id_server_unbind_result": "success"}


@admin_endpoint(bp, "GET", "/v1/whois/{user_id}")
async def whois(me: Requester, user_id: str, hearth: Hearth) -> dict:
    return (await hearth.admin.users.whois(user_id)).to_json()


@endpoint(bp, "GET", "/admin/whois/{user_id}", prefixes=CLIENT_PREFIXES)
async def get_who_is(me: Requester, user_id: str, hearth: Hearth) -> dict:
    """The spec's GET /admin/whois/{userId}: server admins, or users asking about themselves."""
    if not me.admin and me.user_id != user_id:
        raise Forbidden("You are not a server admin")
    return (await hearth.admin.users.whois(user_id)).to_json()


@admin_endpoint(bp, "GET", "/v1/users/{user_id}/admin")
async def get_admin(me: Requester, user_id: str, hearth: Hearth) -> dict:
    return {"admin": await hearth.admin.users.is_admin(user_id)}


@admin_endpoint(bp, "PUT", "/v1/users/{user_id}/admin")
async def set_admin(me: Requester, user_id: str, body: SetAdminBody, hearth: Hearth) -> dict:
    await hearth.admin.users.set_admin(user_id, body.admin, by=me.user_id)
    return {}


@admin_endpoint(bp, "GET", "/v1/users/{user_id}/joined_rooms")
async def joined_rooms(me: Requester, user_id: str, hearth: Hearth) -> dict:
    rooms = await hearth.admin.users.joined_rooms(user_id)
    return {"joined_rooms": rooms, "total": len(rooms)}


@admin_endpoint(bp, "GET", "/v2/users/{user_id}/devices")
async def list_devices(me: Requester, user_id: str, hearth: Hearth) -> dict:
    devices = await hearth.admin.users.list_devices(user_id)
    return {"devices": [d.to_json() for d in devices], "total": len(devices)}


@admin_endpoint(bp, "GET", "/v2/users/{user_id}/devices/{device_id}")
async def get_device(me: Requester, user_id: str, device_id: str, hearth: Hearth) -> dict:
    return (await hearth.admin.users.get_device(user_id, device_id)).to_json()


@admin_endpoint(bp, "DELETE", "/v2/users/{user_id}/devices/{device_id}")
async def delete_device(me: Requester, user_id: str, device_id: str, hearth: Hearth) -> dict:
    await hearth.admin.users.delete_devices(user_id, [device_id])
    return {}


@admin_endpoint(bp, "POST", "/v2/users/{user_id}/delete_devices")
async def delete_devices(me: Requester, user_id: str, body: DeleteDevicesBody, hearth: Hearth) -> dict:
    await hearth.admin.users.delete_devices(user_id, body.devices)
    return {}
