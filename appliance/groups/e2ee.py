"""End-to-end encryption: device and one-time keys, to-device messages, key backup, dehydrated
devices, and what /sync needs of them."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.services.dehydrated_devices import DehydratedDeviceService
from ..core.services.device_keys import DeviceKeyService
from ..core.services.e2ee import E2eeService
from ..core.services.key_backup import KeyBackupService
from ..core.services.to_device import ToDeviceService
from ..core.storage.stores.dehydrated_devices import DehydratedDeviceStore
from ..core.storage.stores.e2e_keys import E2eKeyStore
from ..core.storage.stores.key_backup import KeyBackupStore
from ..core.storage.stores.to_device import ToDeviceStore
from .accounts import Accounts
from .core import Core


@dataclass(frozen=True, slots=True, eq=False)
class E2ee:
    device_keys: DeviceKeyService
    to_device: ToDeviceService
    key_backup: KeyBackupService
    sync: E2eeService  # to-device messages, device-list changes and key counts for /sync
    dehydrated_devices: DehydratedDeviceService


def build_e2ee(core: Core, accounts: Accounts) -> E2ee:
    device_keys = DeviceKeyService(core.db, E2eKeyStore(core.db), core.stream, core.server_name)
    to_device_store = ToDeviceStore(core.db)
    to_device = ToDeviceService(core.db, to_device_store, core.stream, core.server_name)
    sync = E2eeService(device_keys, to_device)
    dehydrated = DehydratedDeviceService(DehydratedDeviceStore(core.db), to_device_store, core.account_store,
                                         device_keys, accounts.devices.remove_devices, accounts.devices.add)
    accounts.devices_deleted.subscribe(sync.on_devices_deleted)
    accounts.device_added.subscribe(sync.on_device_created)
    accounts.devices_deleted.subscribe(dehydrated.forget)
    return E2ee(device_keys=device_keys, to_device=to_device, key_backup=KeyBackupService(KeyBackupStore(core.db)),
                sync=sync, dehydrated_devices=dehydrated)
