"""Admin API, server notices (Synapse docs/admin_api/server_notices.md)."""
from __future__ import annotations

from typing import Any

from pydantic import StrictStr
from quart import Blueprint

from ....hearth import Hearth
from ...protocol.errors import InvalidParam, MissingParam
from ...services.auth import Requester
from . import AdminBody, admin_endpoint

bp = Blueprint("admin_server_notices", __name__)


class NoticeBody(AdminBody):
    user_id: StrictStr
    content: dict[str, Any]  # message content, checked below
    type: StrictStr | None = None
    state_key: Any = None
    body_errors = {"*:missing": MissingParam, "content": MissingParam, "*": InvalidParam}


def _notice(body: NoticeBody) -> tuple[str, str, dict]:
    """The checked body of a send_server_notice request: (user_id, text, send_notice's keywords)."""
    user_id, content = body.user_id, body.content
    if body.type not in (None, "m.room.message") or "state_key" in body.model_fields_set:
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
async def send_server_notice(me: Requester, body: NoticeBody, hearth: Hearth) -> dict:
    user_id, text, kwargs = _notice(body)
    return {"event_id": await hearth.accounts.server_notices.send_notice(user_id, text, **kwargs)}


@admin_endpoint(bp, "PUT", "/v1/send_server_notice/{txn_id}")
async def send_server_notice_txn(me: Requester, txn_id: str, body: NoticeBody, hearth: Hearth) -> dict:
    """The POST with a transaction ID: a retry from the same admin device answers the same event."""
    user_id, text, kwargs = _notice(body)
    event_id = await hearth.accounts.server_notices.send_notice_once(me.user_id, me.device_id, txn_id, user_id, text,
                                                            **kwargs)
    return {"event_id": event_id}
