"""Send-to-device messaging (to_device.yaml)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from quart import Blueprint

from ...services.auth import Requester
from ..routing import ACCESS_TOKEN, PathModel, endpoint
from ....hearth import Hearth

bp = Blueprint("client_to_device", __name__)


class SendToDevicePath(PathModel):
    event_type: str
    txn_id: str


class SendToDeviceBody(BaseModel, extra="allow"):
    messages: dict[str, Any]


@endpoint(bp, "PUT", "/sendToDevice/{event_type}/{txn_id}", auth=ACCESS_TOKEN)
async def send_to_device(me: Requester, path: SendToDevicePath, body: SendToDeviceBody, hearth: Hearth) -> dict:
    # An appservice without a device: its transaction IDs are its own (device "").
    await hearth.e2ee.to_device.send(me.user_id, me.device_id or "", path.event_type, path.txn_id, body.messages)
    return {}
