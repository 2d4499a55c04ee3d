"""Bridges (DESIGN decision 9): the in-process bridge host (appliance/bridges/host.py) over the
parts of the server it acts through (`MatrixSide`): the core, the rooms, the accounts' store and
typing. Plugins never get this group; each gets a context made for it by the host.

The host is built on first use: when a bridge is switched on (stored by the pages or `hearth
bridges enable`, or named in HEARTH_BRIDGES_ENABLED), or when a page, the metrics or a command
asks for it. Until then `follow` only reads the stored choice every `WATCH_S`, as the host's own
loop would, and the host's modules (and plugins' entry points) are not loaded: ~10 ms of every
start on a box without bridges (README "Benchmark")."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.services.bridge_switches import WATCH_S, any_on
from ..core.services.server_settings import ServerSettingsService
from .accounts import Accounts
from .core import Background, Core
from .on_first_use import OnFirstUse
from .reading import Reading
from .rooms import Rooms
from .web import Web

if TYPE_CHECKING:
    from ..bridges.host import BridgeHost


@dataclass(frozen=True, slots=True, eq=False)
class Bridges:
    built_host: OnFirstUse[BridgeHost]
    background: tuple[Background, ...]

    @property
    def host(self) -> BridgeHost:
        return self.built_host.get()


def build_bridges(core: Core, rooms: Rooms, accounts: Accounts, reading: Reading, web: Web) -> Bridges:
    settings = core.settings
    stored: ServerSettingsService = web.server_settings
    forced: Callable[[], list[str] | None] = (
        (lambda: list(settings.bridges_enabled)) if "bridges_enabled" in settings.explicit_fields else (lambda: None))
    holder: OnFirstUse[BridgeHost] = OnFirstUse(lambda: _build_host(core, rooms, accounts, reading, stored, forced,
                                                                    settings.bridge_call_timeout_s))

    async def follow() -> None:
        """Background task: the host's loop, once there is a host (until then, wait for one)."""
        try:
            while not holder.built and not any_on(await stored.stored(), forced()):
                await asyncio.sleep(WATCH_S)
        except asyncio.CancelledError:
            if holder.built:  # a page switched a bridge on within the last WATCH_S: stop it too
                await holder.get().stop_all()
            raise
        await holder.get().run()

    return Bridges(built_host=holder, background=(follow,))


def _build_host(core: Core, rooms: Rooms, accounts: Accounts, reading: Reading, stored: ServerSettingsService,
                forced: Callable[[], list[str] | None], call_timeout_s: float) -> BridgeHost:
    from ..bridges.host import BridgeHost
    from ..bridges.matrix_side import MatrixSide
    from ..core.storage.stores.bridges import BridgeStore
    from ..core.storage.stores.receipts import ReceiptStore
    from ..core.storage.stores.stream_consumers import StreamConsumerStore

    side = MatrixSide(core.server_name, core.db, core.stream, core.pipeline, core.event_store, core.account_store,
                      core.appservice_registry, StreamConsumerStore(core.db), BridgeStore(core.db), rooms.creation,
                      rooms.membership, rooms.messages, rooms.aliases, reading.typing, ReceiptStore(core.db),
                      accounts.presence, core.settings.data_dir, core.settings.base_url)
    return BridgeHost(side, stored.stored, stored.store_values, forced, call_timeout_s)
