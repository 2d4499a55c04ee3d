"""Pushers (pusher.yaml): list the user's pushers, create, update or delete one."""
from __future__ import annotations

from typing import Any

from pydantic import StrictBool, StrictStr
from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester, require_device
from ...protocol.errors import InvalidParam, MissingParam
from ..routing import BodyModel, endpoint

bp = Blueprint("client_pushers", __name__)


@endpoint(bp, "GET", "/pushers")
async def get_pushers(me: Requester, hearth: Hearth) -> dict:
    return {"pushers": await hearth.push.pushers.get_pushers(me.user_id)}


class PusherBody(BodyModel):
    """kind null deletes the pusher; any other kind needs the display names, lang and data
    (checked by the service, with data's url and format)."""
    pushkey: StrictStr
    kind: StrictStr | None
    app_id: StrictStr
    app_display_name: StrictStr | None = None
    device_display_name: StrictStr | None = None
    profile_tag: StrictStr | None = None
    lang: StrictStr | None = None
    data: dict[str, Any] | None = None
    append: StrictBool = False
    body_errors = {"*:missing": MissingParam, "*": InvalidParam}


@endpoint(bp, "POST", "/pushers/set")
async def post_pusher(me: Requester, body: PusherBody, hearth: Hearth) -> dict:
    await hearth.push.pushers.set_pusher(me.user_id, require_device(me), body.model_dump(exclude_unset=True))
    return {}
