"""Dehydrated devices, the unstable MSC3814 endpoints current Element clients use."""
from __future__ import annotations

from typing import Any

from pydantic import StrictStr
from quart import Blueprint

from ...services.auth import Requester
from ...protocol.errors import InvalidParam
from ..routing import ACCESS_TOKEN, BodyModel, PathModel, endpoint
from ....hearth import Hearth

bp = Blueprint("client_dehydrated_device", __name__)
PREFIX = ("/_matrix/client/unstable/org.matrix.msc3814.v1",)


class DevicePath(PathModel):
    device_id: str


class EventsBody(BodyModel):
    next_batch: StrictStr | None = None
    body_errors = {"next_batch": InvalidParam}


class DehydratedDeviceBody(BodyModel):
    device_id: StrictStr
    device_data: dict[str, Any]
    initial_device_display_name: StrictStr | None = None
    device_keys: dict[str, Any] | None = None
    one_time_keys: dict[str, Any] | None = None
    fallback_keys: dict[str, Any] | None = None
    body_errors = {"device_id": InvalidParam}


@endpoint(bp, "PUT", "/dehydrated_device", auth=ACCESS_TOKEN, prefixes=PREFIX)
async def put_dehydrated_device(me: Requester, body: DehydratedDeviceBody, hearth: Hearth) -> dict:
    return await hearth.e2ee.dehydrated_devices.put(me.user_id, body.model_dump(exclude_unset=True))


@endpoint(bp, "GET", "/dehydrated_device", auth=ACCESS_TOKEN, prefixes=PREFIX)
async def get_dehydrated_device(me: Requester, hearth: Hearth) -> dict:
    return await hearth.e2ee.dehydrated_devices.get(me.user_id)


@endpoint(bp, "DELETE", "/dehydrated_device", auth=ACCESS_TOKEN, prefixes=PREFIX)
async def delete_dehydrated_device(me: Requester, hearth: Hearth) -> dict:
    return await hearth.e2ee.dehydrated_devices.delete(me.user_id)


@endpoint(bp, "POST", "/dehydrated_device/{device_id}/events", auth=ACCESS_TOKEN, prefixes=PREFIX)
async def get_dehydrated_device_events(me: Requester, path: DevicePath, body: EventsBody, hearth: Hearth) -> dict:
    return await hearth.e2ee.dehydrated_devices.events(me.user_id, path.device_id, body.next_batch)
