"""/versions and /.well-known/matrix/client: what we speak and where we are."""
from __future__ import annotations

from quart import Blueprint

from ...api.routing import NO_AUTH, endpoint
from ...protocol.errors import NotFound
from ...services.auth import ClientInfo
from ....hearth import Hearth
from ....public_address import is_loopback_host, url_is_loopback

bp = Blueprint("client_versions", __name__)

# Advertise only what works: a version when all it asks of a server is served, and so is every
# version before it (docs/spec-versions.md goes through v1.12 … v1.19).
SUPPORTED_VERSIONS = ["r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11",
                      "v1.12", "v1.13", "v1.14", "v1.15", "v1.16", "v1.17", "v1.18", "v1.19"]
# Unstable features that really work here.
UNSTABLE_FEATURES = {"org.matrix.msc3814": True,  # dehydrated devices
                     "im.nheko.summary": True,  # room summary (MSC3266), also at /v1/room_summary
                     "uk.half-shot.msc2666.query_mutual_rooms": True,  # also at /v1/mutual_rooms
                     # simplified sliding sync (MSC4186): matrix-rust-sdk (Element X) checks this key
                     "org.matrix.simplified_msc3575": True}


@endpoint(bp, "GET", "/_matrix/client/versions", auth=NO_AUTH, prefixes=("",))
async def get_versions() -> dict:
    return {"versions": SUPPORTED_VERSIONS, "unstable_features": UNSTABLE_FEATURES}


@endpoint(bp, "GET", "/.well-known/matrix/client", auth=NO_AUTH, prefixes=("",))
async def get_wellknown(hearth: Hearth, client: ClientInfo) -> dict:
    """Where clients should go. A loopback address (Hearth listens on loopback only and no public
    URL is set) is never handed to a client elsewhere, say behind a proxy: it would reach itself.
    It gets the spec's "no well-known" (404) instead, and keeps the address it used."""
    base_url = hearth.settings.base_url()
    if url_is_loopback(base_url) and client.ip and not is_loopback_host(client.ip):
        raise NotFound("This server's public address is not configured (HEARTH_PUBLIC_BASEURL)")
    return {"m.homeserver": {"base_url": base_url}}
