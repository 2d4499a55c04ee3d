"""Admin API, server version (Synapse docs/admin_api/version_api.md)."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from quart import Blueprint

from ..routing import NO_AUTH, endpoint
from . import ADMIN_PREFIXES

bp = Blueprint("admin_server_version", __name__)


def hearth_version() -> str:
    try:
        return version("hearth")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


@endpoint(bp, "GET", "/v1/server_version", auth=NO_AUTH, prefixes=ADMIN_PREFIXES)
async def server_version() -> dict:
    """As in Synapse, this one answers without a token: tools use it to recognise the server."""
    return {"server_version": f"Hearth {hearth_version()}"}
