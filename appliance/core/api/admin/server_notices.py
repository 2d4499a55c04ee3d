"""Admin API, server notices (Synapse docs/admin_api/server_notices.md)."""
from __future__ import annotations

from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import InvalidParam, MissingParam
from ...services.auth import Requester
from . import admin_endpoint, body_str

bp = Blueprint("admin_server_notices", __name__)


def _notice(body: dict) -> tuple[str, str, dict]:
    """The checked body of a send_server_notice request: (user_id, text, send_notice's keywords)."""
    user_id = body_str(body, "user_id")
    content = body.get("content")
    if user_id is None:
        raise MissingParam("Missing param user_id")
    if not isinstance(content, dict):
        raise MissingParam("Missing param content")
    if body_str(body, "type") not in (None, "m.room.message") or "state_key" in body:
        raise InvalidParam("Server notices here are m.room.message events")
    text = content.get("body")
    if not isinstance(text, str):
        raise InvalidParam("content.body must be a string")
    notice_type = content.get("server_notice_type") if content.get("msgtype") == "m.server_notice" else None
    if notice_type is not None and not isinstance(notice_type, str):
        raise InvalidParam("content.server_notice_type must be a string")
    extra = {k: v for k, v in content.items() if k not in ("body", "msgtype", "server_notice_type")}
    return user_id, text, {"server_notice_type": notice_type, "extra": extra}


@admin_endpoint(bp, "POST", "/v1/send_server_notice")
async def send_server_notice(me: Requester, body: dict, hearth: Hearth) -> dict:
    user_id, text, kwargs = _notice(body)
    return {"event_id": await hearth.rooms.server_notices.send_notice(user_id, text, **kwargs)}


@admin_endpoint(bp, "PUT", "/v1/send_server_notice/{txn_id}")
async def send_server_notice_txn(me: Requester, txn_id: str, body: dict, hearth: Hearth) -> dict:
    """The POST with a transaction ID: a retry from the same admin device answers the same event."""
    user_id, text, kwargs = _notice(body)
    event_id = await hearth.rooms.server_notices.send_notice_once(me.user_id, me.device_id, txn_id, user_id, text,
                                                            **kwargs)
    return {"event_id": event_id}
