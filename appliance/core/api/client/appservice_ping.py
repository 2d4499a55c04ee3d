"""POST /_matrix/client/v1/appservice/{appserviceId}/ping (appservice_ping.yaml)."""
from __future__ import annotations

from pydantic import StrictStr
from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..models import BodyModel
from ..routing import ACCESS_TOKEN, PathModel, endpoint

bp = Blueprint("client_appservice_ping", __name__)


class PingPath(PathModel):
    appservice_id: str


class PingBody(BodyModel):
    transaction_id: StrictStr | None = None


@endpoint(bp, "POST", "/appservice/{appservice_id}/ping", auth=ACCESS_TOKEN, prefixes=("/_matrix/client/v1",),
          rate_limited=False)
async def ping_appservice(me: Requester, path: PingPath, body: PingBody, hearth: Hearth) -> dict:
    return await hearth.appservices.ping.ping(me, path.appservice_id, body.transaction_id)
