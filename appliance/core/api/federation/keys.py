"""Server keys (server-server-api.md "Retrieving server keys", key/v2 in server_key.yaml and
notary.yaml) and `/.well-known/matrix/server` ("Server discovery"). With federation off
(HEARTH_FEDERATION_ENABLED=false, the default) none of this is served: 404 M_NOT_FOUND, and
peers that look for us find nothing to talk to."""
from __future__ import annotations

import time
from typing import Any

from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import BadJson
from ...services.server_keys import notary_query, our_key_response
from ..routing import NO_AUTH, endpoint
from .guard import require_federation as _require_federation

bp = Blueprint("federation_keys", __name__)
KEY_V2 = ("/_matrix/key/v2",)


@endpoint(bp, "GET", "/server", auth=NO_AUTH, prefixes=KEY_V2, rate_limited=True)
async def get_server_keys(hearth: Hearth) -> dict:
    _require_federation(hearth)
    return our_key_response(hearth.server_name, hearth.core.signing_key, int(time.time() * 1000))


@endpoint(bp, "POST", "/query", auth=NO_AUTH, prefixes=KEY_V2, rate_limited=True)
async def query_keys(body: dict, hearth: Hearth) -> dict:
    _require_federation(hearth)
    return notary_query(body.get("server_keys"), hearth.server_name, hearth.core.signing_key,
                        int(time.time() * 1000))


@endpoint(bp, "GET", "/query/{server_name}", auth=NO_AUTH, prefixes=KEY_V2, rate_limited=True)
async def query_keys_for_server(server_name: str, raw_args: Any, hearth: Hearth) -> dict:
    _require_federation(hearth)
    minimum = raw_args.get("minimum_valid_until_ts")
    criteria: dict[str, Any] = {}
    if minimum is not None:
        try:
            criteria["minimum_valid_until_ts"] = int(minimum)
        except ValueError:
            raise BadJson("minimum_valid_until_ts must be an integer") from None
    return notary_query({server_name: {"": criteria}}, hearth.server_name,
                        hearth.core.signing_key, int(time.time() * 1000))


@endpoint(bp, "GET", "/.well-known/matrix/server", auth=NO_AUTH, prefixes=("",))
async def get_wellknown_server(hearth: Hearth) -> dict:
    """Where peers reach our federation listener: the server name's host on HEARTH_FEDERATION_BIND's port."""
    _require_federation(hearth)
    name = hearth.server_name
    host = name if name.endswith("]") or name.count(":") != 1 else name.rsplit(":", 1)[0]
    return {"m.server": f"{host}:{hearth.settings.federation_host_port[1]}"}
