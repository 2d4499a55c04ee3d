"""Logout (logout.yaml): the device goes with its token."""
from __future__ import annotations

from quart import Blueprint

from ...services.auth import Requester
from ..routing import ACCESS_TOKEN, endpoint
from ....hearth import Hearth

bp = Blueprint("client_logout", __name__)


@endpoint(bp, "POST", "/logout", auth=ACCESS_TOKEN, allow_locked=True)
async def logout(me: Requester, hearth: Hearth) -> dict:
    await hearth.accounts.login.logout(me)
    return {}


@endpoint(bp, "POST", "/logout/all", auth=ACCESS_TOKEN, allow_locked=True)
async def logout_all(me: Requester, hearth: Hearth) -> dict:
    await hearth.accounts.login.logout_all(me)
    return {}
