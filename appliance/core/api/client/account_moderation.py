"""Server administration: lock and suspend accounts (admin.yaml, `/_matrix/client/v1/admin/...`)."""
from __future__ import annotations

from pydantic import BaseModel
from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..routing import PathModel, endpoint

bp = Blueprint("client_account_moderation", __name__)
V1 = ("/_matrix/client/v1",)


class UserPath(PathModel):
    user_id: str


class LockBody(BaseModel):
    locked: bool


class SuspendBody(BaseModel):
    suspended: bool


@endpoint(bp, "GET", "/admin/lock/{user_id}", prefixes=V1)
async def get_admin_lock_user(me: Requester, path: UserPath, hearth: Hearth) -> dict:
    return {"locked": (await hearth.admin.moderation.get(me, path.user_id)).locked}


@endpoint(bp, "PUT", "/admin/lock/{user_id}", prefixes=V1)
async def set_admin_lock_user(me: Requester, path: UserPath, body: LockBody, hearth: Hearth) -> dict:
    return {"locked": await hearth.admin.moderation.set_locked(me, path.user_id, body.locked)}


@endpoint(bp, "GET", "/admin/suspend/{user_id}", prefixes=V1)
async def get_admin_suspend_user(me: Requester, path: UserPath, hearth: Hearth) -> dict:
    return {"suspended": (await hearth.admin.moderation.get(me, path.user_id)).suspended}


@endpoint(bp, "PUT", "/admin/suspend/{user_id}", prefixes=V1)
async def set_admin_suspend_user(me: Requester, path: UserPath, body: SuspendBody, hearth: Hearth) -> dict:
    return {"suspended": await hearth.admin.moderation.set_suspended(me, path.user_id, body.suspended)}
