"""POST /user/{userId}/openid/request_token (openid.yaml)."""
from __future__ import annotations

from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import Forbidden
from ...services.auth import Requester
from ..routing import BodyModel, PathModel, endpoint

bp = Blueprint("client_openid", __name__)


class OpenIdPath(PathModel):
    user_id: str


class OpenIdBody(BodyModel):
    """An empty object by the spec."""


@endpoint(bp, "POST", "/user/{user_id}/openid/request_token")
async def request_open_id_token(me: Requester, path: OpenIdPath, body: OpenIdBody, hearth: Hearth) -> dict:
    if path.user_id != me.user_id:
        raise Forbidden("You can only request an OpenID token for yourself")
    return await hearth.accounts.openid.request_token(me.user_id)
