"""Device management (device_management.yaml)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, StrictStr
from quart import Blueprint

from ...services.auth import Requester
from ..routing import ACCESS_TOKEN, PathModel, endpoint
from ....hearth import Hearth

bp = Blueprint("client_devices", __name__)


class DevicePath(PathModel):
    device_id: str


@endpoint(bp, "GET", "/devices", auth=ACCESS_TOKEN)
async def get_devices(me: Requester, hearth: Hearth) -> dict:
    return {"devices": await hearth.accounts.devices.list_devices(me.user_id)}


@endpoint(bp, "GET", "/devices/{device_id}", auth=ACCESS_TOKEN)
async def get_device(me: Requester, path: DevicePath, hearth: Hearth) -> dict:
    return await hearth.accounts.devices.get_device(me.user_id, path.device_id)


class UpdateDeviceBody(BaseModel, extra="allow"):
    display_name: StrictStr | None = None


@endpoint(bp, "PUT", "/devices/{device_id}", auth=ACCESS_TOKEN)
async def update_device(me: Requester, path: DevicePath, body: UpdateDeviceBody, hearth: Hearth) -> dict:
    """Renames one of the user's devices; creating devices is for application services only."""
    await hearth.accounts.devices.update_device(me.user_id, path.device_id, body.display_name,
                                               "display_name" in body.model_fields_set,
                                               by_appservice=me.appservice_id is not None)
    return {}


class DeleteDeviceBody(BaseModel, extra="allow"):
    auth: dict[str, Any] | None = None


@endpoint(bp, "DELETE", "/devices/{device_id}", auth=ACCESS_TOKEN)
async def delete_device(me: Requester, path: DevicePath, body: DeleteDeviceBody, hearth: Hearth) -> dict:
    await hearth.accounts.devices.delete_devices(me, [path.device_id], body.auth)
    return {}


class DeleteDevicesBody(BaseModel, extra="allow"):
    devices: list[StrictStr]
    auth: dict[str, Any] | None = None


@endpoint(bp, "POST", "/delete_devices", auth=ACCESS_TOKEN)
async def delete_devices(me: Requester, body: DeleteDevicesBody, hearth: Hearth) -> dict:
    await hearth.accounts.devices.delete_devices(me, body.devices, body.auth)
    return {}
