"""Dehydrated devices, the unstable MSC3814 endpoints current Element clients use."""
from __future__ import annotations

from quart import Blueprint

from ...services.auth import Requester
from ..routing import ACCESS_TOKEN, PathModel, endpoint
from ....hearth import Hearth

bp = Blueprint("client_dehydrated_device", __name__)
PREFIX = ("/_matrix/client/unstable/org.matrix.msc3814.v1",)


class DevicePath(PathModel):
    device_id: str


@endpoint(bp, "PUT", "/dehydrated_device", auth=ACCESS_TOKEN, prefixes=PREFIX)
async def put_dehydrated_device(me: Requester, body: dict, hearth: Hearth) -> dict:
    return await hearth.e2ee.dehydrated_devices.put(me.user_id, body)


@endpoint(bp, "GET", "/dehydrated_device", auth=ACCESS_TOKEN, prefixes=PREFIX)
async def get_dehydrated_device(me: Requester, hearth: Hearth) -> dict:
    return await hearth.e2ee.dehydrated_devices.get(me.user_id)


@endpoint(bp, "DELETE", "/dehydrated_device", auth=ACCESS_TOKEN, prefixes=PREFIX)
async def delete_dehydrated_device(me: Requester, hearth: Hearth) -> dict:
    return await hearth.e2ee.dehydrated_devices.delete(me.user_id)


@endpoint(bp, "POST", "/dehydrated_device/{device_id}/events", auth=ACCESS_TOKEN, prefixes=PREFIX)
async def get_dehydrated_device_events(me: Requester, path: DevicePath, body: dict, hearth: Hearth) -> dict:
    return await hearth.e2ee.dehydrated_devices.events(me.user_id, path.device_id, body.get("next_batch"))
