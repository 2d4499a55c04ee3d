"""VoIP (voip.yaml): Hearth runs no TURN server, so it has no credentials to hand out.

Clients ask at start-up; an empty object (as Synapse answers without TURN configured) tells them
to call peer to peer with STUN only, instead of retrying an error.
"""
from __future__ import annotations

from quart import Blueprint

from ...services.auth import Requester
from ..routing import ACCESS_TOKEN, endpoint

bp = Blueprint("client_voip", __name__)


@endpoint(bp, "GET", "/voip/turnServer", auth=ACCESS_TOKEN)
async def get_turn_server(me: Requester) -> dict:
    return {}
