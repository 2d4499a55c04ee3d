"""GET /_matrix/federation/v1/openid/userinfo (server-server openid.yaml): exchange an OpenID
token made by /user/{userId}/openid/request_token for the user ID that holds it."""
from __future__ import annotations

from quart import Blueprint

from ....hearth import Hearth
from ..routing import NO_AUTH, endpoint

bp = Blueprint("federation_openid", __name__)
FEDERATION_V1 = ("/_matrix/federation/v1",)


@endpoint(bp, "GET", "/openid/userinfo", auth=NO_AUTH, prefixes=FEDERATION_V1, rate_limited=True)
async def exchange_openid_token(raw_args, hearth: Hearth) -> dict:
    # `access_token` is the OpenID token itself (the router would take it for a login token).
    return await hearth.accounts.openid.userinfo(raw_args.get("access_token"))
