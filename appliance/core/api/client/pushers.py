"""Pushers (pusher.yaml): list the user's pushers, create, update or delete one."""
from __future__ import annotations

from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..routing import endpoint

bp = Blueprint("client_pushers", __name__)


@endpoint(bp, "GET", "/pushers")
async def get_pushers(me: Requester, hearth: Hearth) -> dict:
    return {"pushers": await hearth.push.pushers.get_pushers(me.user_id)}


@endpoint(bp, "POST", "/pushers/set")
async def post_pusher(me: Requester, body: dict, hearth: Hearth) -> dict:
    await hearth.push.pushers.set_pusher(me.user_id, me.device_id, body)
    return {}
