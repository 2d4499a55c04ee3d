"""The guard of every authenticated federation endpoint: federation must be on, and the request
signed by the server it claims to come from (services/federation/inbound_auth)."""
from __future__ import annotations

from quart import request

from ....hearth import Hearth
from ...protocol.errors import NotFound, NotJson
from ...services.federation.inbound_auth import authenticate_request


def require_federation(hearth: Hearth) -> None:
    if not hearth.settings.federation_enabled:
        raise NotFound("Federation is turned off on this server")


async def federation_origin(hearth: Hearth, content: object = None) -> str:
    """The authenticated origin server of the current request; raises a spec error.

    `content`: the JSON body already read by the endpoint (None for requests without one); the
    signature covers it, and the URI exactly as sent (path and query string).
    """
    require_federation(hearth)
    raw_path = request.scope.get("raw_path") or request.path.encode()  # as sent, still percent-encoded
    uri = raw_path.decode("latin-1") + ("?" + request.query_string.decode("latin-1") if request.query_string else "")
    if request.method not in ("GET", "DELETE") and content is None:
        data = await request.get_data()
        if data:
            raise NotJson("A body was sent but not read as JSON")
    s = hearth.settings
    origin = await authenticate_request(hearth.federation.keyring, s.server_name, s.federation_allowed_servers,
                                        s.federation_denied_servers, request.method, uri, content,
                                        request.headers.get("Authorization"))
    hearth.federation.sender.peer_is_back(origin)  # it answers again: retry what it missed now
    return origin
