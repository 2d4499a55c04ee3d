"""POST /rooms/{roomId}/report/{eventId}, /rooms/{roomId}/report, /users/{userId}/report
(report_content.yaml)."""
from __future__ import annotations

from pydantic import BaseModel, Field
from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..routing import PathModel, endpoint

bp = Blueprint("client_report_content", __name__)


class EventReportPath(PathModel):
    room_id: str
    event_id: str


class RoomReportPath(PathModel):
    room_id: str


class UserReportPath(PathModel):
    user_id: str


class EventReportBody(BaseModel):
    reason: str | None = None
    score: int | None = Field(None, ge=-100, le=0)  # removed from the spec in v1.x; kept if sent


class ReasonBody(BaseModel):
    reason: str


@endpoint(bp, "POST", "/rooms/{room_id}/report/{event_id}")
async def report_event(me: Requester, path: EventReportPath, body: EventReportBody, hearth: Hearth) -> dict:
    await hearth.reading.reports.report_event(me.user_id, path.room_id, path.event_id, body.reason, body.score)
    return {}


@endpoint(bp, "POST", "/rooms/{room_id}/report")
async def report_room(me: Requester, path: RoomReportPath, body: ReasonBody, hearth: Hearth) -> dict:
    await hearth.reading.reports.report_room(me.user_id, path.room_id, body.reason)
    return {}


@endpoint(bp, "POST", "/users/{user_id}/report")
async def report_user(me: Requester, path: UserReportPath, body: ReasonBody, hearth: Hearth) -> dict:
    await hearth.reading.reports.report_user(me.user_id, path.user_id, body.reason)
    return {}
