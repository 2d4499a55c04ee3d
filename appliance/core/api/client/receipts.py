"""POST /rooms/{roomId}/receipt/{receiptType}/{eventId} (receipts.yaml) and
POST /rooms/{roomId}/read_markers (read_markers.yaml)."""
from __future__ import annotations

from pydantic import Field, StrictStr
from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ...protocol.errors import InvalidParam
from ..routing import BodyModel, PathModel, endpoint

bp = Blueprint("client_receipts", __name__)


class ReceiptPath(PathModel):
    room_id: str
    receipt_type: str
    event_id: str


class RoomPath(PathModel):
    room_id: str


class ReceiptBody(BodyModel):
    thread_id: StrictStr | None = None
    body_errors = {"thread_id": InvalidParam}


class ReadMarkersBody(BodyModel):
    fully_read: StrictStr | None = Field(None, alias="m.fully_read")
    read: StrictStr | None = Field(None, alias="m.read")
    read_private: StrictStr | None = Field(None, alias="m.read.private")
    body_errors = {"*": InvalidParam}


@endpoint(bp, "POST", "/rooms/{room_id}/receipt/{receipt_type}/{event_id}", rate_limited=True)
async def post_receipt(me: Requester, path: ReceiptPath, body: ReceiptBody, hearth: Hearth) -> dict:
    await hearth.reading.receipts.post_receipt(me.user_id, path.room_id, path.receipt_type, path.event_id,
                                       body.thread_id)
    return {}


@endpoint(bp, "POST", "/rooms/{room_id}/read_markers", rate_limited=True)
async def set_read_marker(me: Requester, path: RoomPath, body: ReadMarkersBody, hearth: Hearth) -> dict:
    await hearth.reading.receipts.set_read_markers(me.user_id, path.room_id, body.model_dump(by_alias=True, exclude_none=True))
    return {}
