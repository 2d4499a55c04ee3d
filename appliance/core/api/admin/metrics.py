"""`GET /_hearth/metrics`: the server's figures in Prometheus' text format (services/metrics_report.py).

Off unless the admin turns it on (Settings page, or `HEARTH_METRICS_ENABLED`); while off it is
not there (404, as for any unknown path). On, it answers an admin's access token, or a request
without one from this machine or the home network (a Prometheus on the LAN needs no token); a
token that is not an admin's is refused even from the LAN, and a request from outside without a
token is asked for one.
"""
from __future__ import annotations

from quart import Blueprint, Response

from ....hearth import Hearth
from ...metrics import CONTENT_TYPE, exposition
from ...protocol.errors import Forbidden, MissingToken, Unrecognized
from ...services.auth import ClientInfo, Requester
from ..client_address import is_local_address, parse_ip
from ..routing import OPTIONAL, endpoint

bp = Blueprint("hearth_metrics", __name__)


@endpoint(bp, "GET", "/metrics", auth=OPTIONAL, prefixes=("/_hearth",), rate_limited=False)
async def metrics(me: Requester | None, client: ClientInfo, hearth: Hearth) -> Response:
    if not hearth.settings.metrics_enabled:
        raise Unrecognized("Unrecognized request")
    if me is not None:
        if not me.admin:
            raise Forbidden("Only server admins may read the metrics")
    elif not is_local_address(parse_ip(client.ip)):
        raise MissingToken("Missing access token: from outside the home network, send an admin's")
    text = exposition([*await hearth.web.metrics.families(), *hearth.bridges.host.metric_families()])
    return Response(text, status=200, content_type=CONTENT_TYPE)
