"""Devices (device_management.yaml): adding, listing, naming, deleting. Every new device, by
whatever path it is made (password or OAuth sign-in, registration, an appservice, a dehydrated
device), goes through `add`, which tells the device-added listeners (device-list tracking, so that
the people sharing a room re-query the user's keys); deleting signs a device out and tells the
devices-deleted listeners (device keys, dehydrated devices, pushers)."""
from __future__ import annotations

import json
from typing import Any

from ...protocol.errors import NotFound
from ...storage.stores.accounts import AccountStore, Device
from ...signals import AsyncEvent
from ..auth import AuthService, Requester
from .uia import PASSWORD, UserInteractiveAuth

DevicesDeleted = AsyncEvent[[str, list[str]]]
DeviceAdded = AsyncEvent[[str, str]]


class Devices:
    def __init__(self, accounts: AccountStore, auth: AuthService, uia: UserInteractiveAuth,
                 devices_deleted: DevicesDeleted, device_added: DeviceAdded):
        self.accounts = accounts
        self.auth = auth
        self.uia = uia
        # Emitted after devices are deleted (logout, device deletion, deactivation), e.g. for the
        # keys service to drop their device keys: listener(user_id, device_ids).
        self.devices_deleted = devices_deleted
        # Emitted after a device is made: listener(user_id, device_id).
        self.device_added = device_added

    async def add(self, user_id: str, device_id: str, display_name: str | None, ip: str | None) -> None:
        """Make a new device (the caller knows it does not exist) and tell the listeners."""
        await self.accounts.upsert_device(user_id, device_id, display_name, ip)
        await self.device_added.emit(user_id, device_id)  # a failing listener is logged

    async def remove_devices(self, user_id: str, device_ids: list[str]) -> None:
        """Delete devices without user-interactive auth (for the server's own use)."""
        await self.delete(user_id, device_ids)

    async def delete_user_devices(self, user_id: str, device_ids: list[str]) -> None:
        """Operator path (admin API, web UI): delete devices and sign them out, without UIA."""
        await self.delete(user_id, list(dict.fromkeys(device_ids)))

    async def delete(self, user_id: str, device_ids: list[str]) -> None:
        if not device_ids:
            return
        for token_hash in await self.accounts.delete_devices(user_id, device_ids):
            self.auth.forget_token(token_hash)
        await self.devices_deleted.emit(user_id, device_ids)  # a failing listener is logged

    async def list_devices(self, user_id: str) -> list[dict]:
        return [_device_json(d) for d in await self.accounts.list_devices(user_id)]

    async def get_device(self, user_id: str, device_id: str) -> dict:
        device = await self.accounts.get_device(user_id, device_id)
        if device is None:
            raise NotFound("No such device")
        return _device_json(device)

    async def update_device(self, user_id: str, device_id: str, display_name: str | None,
                            has_display_name: bool, *, by_appservice: bool = False) -> None:
        """Rename a device; an appservice may also create one this way (spec v1.17, MSC4190)."""
        if await self.accounts.get_device(user_id, device_id) is None:
            if by_appservice:
                await self.add(user_id, device_id, display_name, None)
                return
            raise NotFound("No such device")
        if has_display_name:
            await self.accounts.set_device_display_name(user_id, device_id, display_name)

    async def delete_devices(self, me: Requester, device_ids: list[str], auth: Any) -> None:
        """UIA, except for an appservice (spec v1.17: it manages its users' devices)."""
        if me.appservice_id is not None:
            await self.delete(me.user_id, list(dict.fromkeys(device_ids)))
            return
        key = f"POST /delete_devices {me.user_id} " + json.dumps(sorted(set(device_ids)))
        session = await self.uia.run(auth, [[PASSWORD]], key, user_id=me.user_id)
        await self.delete(me.user_id, list(dict.fromkeys(device_ids)))
        await self.uia.finish(session.session_id)


def _device_json(device: Device) -> dict:
    out: dict[str, Any] = {"device_id": device.device_id}
    if device.display_name is not None:
        out["display_name"] = device.display_name
    if device.last_seen_ip is not None:
        out["last_seen_ip"] = device.last_seen_ip
    if device.last_seen_ts is not None:
        out["last_seen_ts"] = device.last_seen_ts
    return out
