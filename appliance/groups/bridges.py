"""Bridges (DESIGN decision 9): the in-process bridge host (appliance/bridges/host.py) over the
parts of the server it acts through (`MatrixSide`): the core, the rooms, the accounts' store and
typing. Plugins never get this group; each gets a context made for it by the host."""
from __future__ import annotations

from dataclasses import dataclass

from ..bridges.host import BridgeHost
from ..bridges.matrix_side import MatrixSide
from ..core.services.server_settings import ServerSettingsService
from ..core.storage.stores.bridges import BridgeStore
from ..core.storage.stores.receipts import ReceiptStore
from ..core.storage.stores.stream_consumers import StreamConsumerStore
from .accounts import Accounts
from .core import Background, Core
from .reading import Reading
from .rooms import Rooms
from .web import Web


@dataclass(frozen=True, slots=True, eq=False)
class Bridges:
    host: BridgeHost
    background: tuple[Background, ...]


def build_bridges(core: Core, rooms: Rooms, accounts: Accounts, reading: Reading, web: Web) -> Bridges:
    side = MatrixSide(core.server_name, core.db, core.stream, core.pipeline, core.event_store, core.account_store,
                      core.appservice_registry, StreamConsumerStore(core.db), BridgeStore(core.db), rooms.creation,
                      rooms.membership, rooms.messages, rooms.aliases, reading.typing, ReceiptStore(core.db),
                      accounts.presence, core.settings.data_dir, core.settings.base_url)
    settings = core.settings
    stored: ServerSettingsService = web.server_settings
    forced = (lambda: list(settings.bridges_enabled)) if "bridges_enabled" in settings.explicit_fields else (lambda: None)
    host = BridgeHost(side, stored.stored, stored.store_values, forced, settings.bridge_call_timeout_s)
    return Bridges(host=host, background=(host.run,))
