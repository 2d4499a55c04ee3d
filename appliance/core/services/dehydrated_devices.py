"""Dehydrated devices (MSC3814, `org.matrix.msc3814.v1`): a device kept on the server while
none of the user's devices is online, so that encrypted messages sent meanwhile can still be
decrypted by whichever device the user logs in with next.

The dehydrated device is an ordinary device row with ordinary keys; the server only keeps the
client's encrypted pickle (`device_data`) and pages out the device's to-device messages.
"""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..protocol.canonical_json import encode_canonical_json
from ..protocol.errors import BadJson, Forbidden, InvalidParam, NotFound
from ..storage.stores.accounts import AccountStore
from ..storage.stores.dehydrated_devices import DehydratedDeviceStore
from ..storage.stores.to_device import ToDeviceStore
from .device_keys import DeviceKeyService

EVENTS_PER_PAGE = 100

RemoveDevices = Callable[[str, list[str]], Awaitable[None]]
AddDevice = Callable[[str, str, str | None, str | None], Awaitable[None]]  # Devices.add


class DehydratedDeviceService:
    def __init__(self, store: DehydratedDeviceStore, to_device: ToDeviceStore, accounts: AccountStore,
                 device_keys: DeviceKeyService, remove_devices: RemoveDevices, add_device: AddDevice):
        self.store = store
        self.to_device = to_device
        self.accounts = accounts
        self.device_keys = device_keys
        self.remove_devices = remove_devices
        self.add_device = add_device

    async def _current(self, user_id: str) -> tuple[str, dict] | None:
        return await self.store.get(user_id)

    async def put(self, user_id: str, body: dict[str, Any]) -> dict[str, str]:
        device_id = body.get("device_id")
        device_data = body.get("device_data")
        if not isinstance(device_id, str) or not device_id or len(device_id) > 255:
            raise InvalidParam("device_id must be a non-empty string")
        if not isinstance(device_data, dict):
            raise BadJson("device_data must be an object")
        display_name = body.get("initial_device_display_name")
        if display_name is not None and not isinstance(display_name, str):
            raise BadJson("initial_device_display_name must be a string")
        existing_device = await self.accounts.get_device(user_id, device_id)
        current = await self._current(user_id)
        if existing_device is not None and (current is None or current[0] != device_id):
            raise InvalidParam("device_id is already used by one of your devices")
        # Replacing a dehydrated device deletes the old one and everything waiting for it.
        if current is not None:
            await self.remove_devices(user_id, [current[0]])
        await self.add_device(user_id, device_id, display_name or "Dehydrated device", None)
        keys = {k: body[k] for k in ("device_keys", "one_time_keys", "fallback_keys") if body.get(k) is not None}
        if keys:
            await self.device_keys.upload_keys(user_id, device_id, keys)
        data = encode_canonical_json(device_data).decode()
        await self.store.put(user_id, device_id, data, int(time.time() * 1000))
        return {"device_id": device_id}

    async def get(self, user_id: str) -> dict[str, Any]:
        current = await self._current(user_id)
        if current is None:
            raise NotFound("No dehydrated device available")
        return {"device_id": current[0], "device_data": current[1]}

    async def delete(self, user_id: str) -> dict[str, str]:
        current = await self._current(user_id)
        if current is None:
            raise NotFound("No dehydrated device available")
        await self.remove_devices(user_id, [current[0]])
        await self.forget(user_id, [current[0]])
        return {"device_id": current[0]}

    async def forget(self, user_id: str, device_ids: list[str]) -> None:
        """A device was deleted (by any path): if it was the dehydrated one, drop its record."""
        await self.store.forget(user_id, device_ids)

    async def events(self, user_id: str, device_id: str, next_batch: str | None) -> dict[str, Any]:
        """Page out the dehydrated device's to-device messages; a page is deleted once the
        client asks for the next one with its `next_batch`."""
        current = await self._current(user_id)
        if current is None or current[0] != device_id:
            raise Forbidden("You may only fetch messages for your dehydrated device")
        after = 0
        if next_batch is not None:
            if not isinstance(next_batch, str) or not next_batch.isdigit():
                raise InvalidParam("Invalid next_batch")
            after = int(next_batch)
            await self.to_device.delete_up_to_id(user_id, device_id, after)
        rows = await self.to_device.page_after(user_id, device_id, after, EVENTS_PER_PAGE)
        last = rows[-1][0] if rows else after
        return {"events": [message for _, message in rows], "next_batch": str(last)}
