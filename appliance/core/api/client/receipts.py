"""POST /rooms/{roomId}/receipt/{receiptType}/{eventId} (receipts.yaml) and
POST /rooms/{roomId}/read_markers (read_markers.yaml)."""
from __future__ import annotations

from quart import Blueprint

from ....hearth import Hearth
from ...services.auth import Requester
from ..routing import PathModel, endpoint

bp = Blueprint("client_receipts", __name__)


class ReceiptPath(PathModel):
    room_id: str
    receipt_type: str
    event_id: str


class RoomPath(PathModel):
    room_id: str


@endpoint(bp, "POST", "/rooms/{room_id}/receipt/{receipt_type}/{event_id}", rate_limited=True)
async def post_receipt(me: Requester, path: ReceiptPath, body: dict, hearth: Hearth) -> dict:
    await hearth.rooms.receipts.post_receipt(me.user_id, path.room_id, path.receipt_type, path.event_id,
                                       body.get("thread_id"))
    return {}


@endpoint(bp, "POST", "/rooms/{room_id}/read_markers", rate_limited=True)
async def set_read_marker(me: Requester, path: RoomPath, body: dict, hearth: Hearth) -> dict:
    await hearth.rooms.receipts.set_read_markers(me.user_id, path.room_id, body)
    return {}
