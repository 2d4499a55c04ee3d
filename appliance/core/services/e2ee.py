"""What /sync needs from end-to-end encryption, and the device life-cycle hooks.

`sync_e2ee` gives the to-device messages (acknowledging those the `since` token covered), the
device-list changes and the key counts of one device. A to-device message for a user advances
the stream with the user's ID as key, so a /sync waiting on `wait_keys(user_id)` wakes up.
"""
from __future__ import annotations

from typing import Any

from .device_keys import DeviceKeyService
from .to_device import ToDeviceService


class E2eeService:
    def __init__(self, device_keys: DeviceKeyService, to_device: ToDeviceService):
        self.device_keys = device_keys
        self.to_device = to_device

    @staticmethod
    def wait_keys(user_id: str) -> list[str]:
        """Stream keys a user's /sync must wait on for to-device messages and own-device changes;
        other users' device changes advance the rooms they are in."""
        return [user_id]

    async def sync_e2ee(self, user_id: str, device_id: str, since_pos: int | None, to_pos: int) -> dict[str, Any]:
        events = await self.to_device.deliver(user_id, device_id, since_pos, to_pos)
        changed, left = await self.device_list_changes(user_id, since_pos, to_pos)
        return {
            "to_device": {"events": events},
            "device_lists": {"changed": changed, "left": left},
            **await self.key_counts(user_id, device_id),
        }

    async def device_list_changes(self, user_id: str, since_pos: int | None, to_pos: int,
                                  ) -> tuple[list[str], list[str]]:
        """(changed, left) for (since, to]; nothing for an initial sync (since None)."""
        if since_pos is None:
            return [], []
        return await self.device_keys.device_list_changes(user_id, since_pos, to_pos)

    async def key_counts(self, user_id: str, device_id: str) -> dict[str, Any]:
        """The device's one-time key counts and unused fallback key types, as /sync names them."""
        return {
            "device_one_time_keys_count": await self.device_keys.one_time_key_counts(user_id, device_id),
            "device_unused_fallback_key_types": await self.device_keys.unused_fallback_key_types(user_id, device_id),
        }

    async def deliver_to_device(self, user_id: str, device_id: str, since_pos: int | None, to_pos: int,
                                ) -> list[dict]:
        """Pending to-device messages, after acknowledging those `since_pos` covered."""
        return await self.to_device.deliver(user_id, device_id, since_pos, to_pos)

    async def has_pending_to_device(self, user_id: str, device_id: str) -> bool:
        return await self.to_device.has_pending(user_id, device_id)

    async def on_device_created(self, user_id: str, device_id: str) -> None:
        await self.device_keys.record_device_change(user_id, device_id)

    async def on_device_deleted(self, user_id: str, device_id: str) -> None:
        await self.device_keys.on_device_deleted(user_id, device_id)

    async def on_devices_deleted(self, user_id: str, device_ids: list[str]) -> None:
        """A devices-deleted listener (services/accounts/devices.py)."""
        for device_id in device_ids:
            await self.device_keys.on_device_deleted(user_id, device_id)
