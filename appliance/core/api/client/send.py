"""Sending into a room: room_send.yaml, room_state.yaml (PUT) and redaction.yaml."""
from __future__ import annotations

from pydantic import BaseModel, Field
from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..routing import PathModel, QueryModel, endpoint

bp = Blueprint("client_send", __name__)


class SendPath(PathModel):
    room_id: str
    event_type: str
    txn_id: str


class StatePath(PathModel):
    room_id: str
    event_type: str
    state_key: str = ""


class TimestampQuery(QueryModel):
    """`ts`: an appservice's timestamp for the event (ignored for everyone else)."""
    ts: int | None = Field(default=None, ge=0, le=2**53 - 1)


def _ts(me: Requester, query: TimestampQuery) -> int | None:
    return query.ts if me.appservice_id is not None else None


class RedactPath(PathModel):
    room_id: str
    event_id: str
    txn_id: str


class RedactBody(BaseModel, extra="allow"):
    reason: str | None = None


@endpoint(bp, "PUT", "/rooms/{room_id}/send/{event_type}/{txn_id}", rate_limited=True)
async def send_message(me: Requester, path: SendPath, query: TimestampQuery, body: dict, hearth: Hearth) -> dict:
    if me.suspended:
        await hearth.admin.moderation.check_suspended_send(me, path.room_id, path.event_type, body)
    event_id = await hearth.rooms.messages.send_message(path.room_id, me.user_id, path.event_type, body,
                                                        path.txn_id, me.device_id, _ts(me, query))
    return {"event_id": event_id}


@endpoint(bp, "PUT", "/rooms/{room_id}/state/{event_type}/{state_key:path}", rate_limited=True)
async def set_room_state_with_key(me: Requester, path: StatePath, query: TimestampQuery, body: dict,
                                  hearth: Hearth) -> dict:
    if me.suspended:
        await hearth.admin.moderation.check_suspended_send(me, path.room_id, path.event_type, body, path.state_key)
    event_id = await hearth.rooms.messages.set_state(path.room_id, me.user_id, path.event_type, path.state_key, body,
                                                     _ts(me, query))
    return {"event_id": event_id}


@endpoint(bp, "PUT", "/rooms/{room_id}/state/{event_type}", rate_limited=True)
async def set_room_state(me: Requester, path: StatePath, query: TimestampQuery, body: dict, hearth: Hearth) -> dict:
    """The empty state key: the trailing slash is optional (room_state.yaml)."""
    if me.suspended:
        await hearth.admin.moderation.check_suspended_send(me, path.room_id, path.event_type, body, "")
    event_id = await hearth.rooms.messages.set_state(path.room_id, me.user_id, path.event_type, "", body,
                                                     _ts(me, query))
    return {"event_id": event_id}


@endpoint(bp, "PUT", "/rooms/{room_id}/redact/{event_id}/{txn_id}", rate_limited=True, allow_guest=False)
async def redact_event(me: Requester, path: RedactPath, body: RedactBody, hearth: Hearth) -> dict:
    if me.suspended:
        await hearth.admin.moderation.check_suspended_send(me, path.room_id, "m.room.redaction",
                                                             {"redacts": path.event_id})
    event_id = await hearth.rooms.messages.redact(path.room_id, path.event_id, me.user_id, body.reason,
                                         path.txn_id, me.device_id)
    return {"event_id": event_id}
