"""What clients read: /sync, a room's messages, context, state and members, receipts and typing,
server-side search, and reports of events (the reporter must be able to see the event)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.services.client_events import ClientEventFormatter
from ..core.services.receipts import ReceiptService
from ..core.services.reports import ReportService
from ..core.services.room_read import RoomReadService
from ..core.services.search import SearchService
from ..core.services.search_index import SearchIndexer
from ..core.services.sync import SyncService
from ..core.services.typing import TypingService
from ..core.services.visibility import Visibility
from ..core.storage.stores.memberships import MembershipStore
from ..core.storage.stores.receipts import ReceiptStore
from ..core.storage.stores.reports import ReportStore
from ..core.storage.stores.search import SearchStore
from ..core.storage.stores.stream_consumers import StreamConsumerStore
from .accounts import Accounts
from .core import Background, Core
from .e2ee import E2ee
from .on_first_use import OnFirstUse

if TYPE_CHECKING:
    from ..core.services.sliding_sync import SlidingSyncService
from .push import Push


@dataclass(frozen=True, slots=True, eq=False)
class Reading:
    rooms: RoomReadService  # messages, context, event, state, members
    sync: SyncService
    built_sliding_sync: OnFirstUse[SlidingSyncService]  # MSC4186, on the same pieces as `sync`
    receipts: ReceiptService
    typing: TypingService
    search: SearchService
    reports: ReportService
    background: tuple[Background, ...]

    @property
    def sliding_sync(self) -> SlidingSyncService:
        """Built at the first sliding-sync request (only Element X and its SDK's apps ask): its
        modules are not imported by a server nobody syncs with that way."""
        return self.built_sliding_sync.get()


def build_reading(core: Core, accounts: Accounts, e2ee: E2ee, push: Push) -> Reading:
    db, events, state, stream = core.db, core.event_store, core.state_store, core.stream
    receipts = ReceiptService(db, ReceiptStore(db), events, stream, accounts.account_data)
    typing = TypingService(stream, events)
    formatter = ClientEventFormatter(events, state)
    visibility = Visibility(events, state, accounts.account_data)
    memberships = MembershipStore(db)
    rooms = RoomReadService(events, state, memberships, stream, formatter, visibility)
    search_store = SearchStore(db)
    indexer = SearchIndexer(db, stream, StreamConsumerStore(db), search_store)  # the stream wakes it
    sync = SyncService(memberships, events, stream, rooms, formatter, visibility, accounts.account_data,
                       receipts, typing, e2ee.sync, accounts.presence, push.service,
                       max_timeout_ms=core.settings.sync_timeout_max_ms)

    def sliding_sync() -> SlidingSyncService:
        from ..core.services.sliding_sync import BumpStamps, SlidingSyncService

        # Rooms bumped before this was built are read from the database once (BumpStamps).
        bumps = BumpStamps()
        core.persisted.subscribe(bumps.on_persisted)
        return SlidingSyncService(memberships, events, stream, rooms, formatter, sync, accounts.account_data,
                                  receipts, typing, e2ee.sync, accounts.presence, push.service, bumps,
                                  max_timeout_ms=core.settings.sync_timeout_max_ms)

    return Reading(
        rooms=rooms,
        sync=sync,
        built_sliding_sync=OnFirstUse(sliding_sync),
        receipts=receipts,
        typing=typing,
        search=SearchService(search_store, events, rooms, indexer),
        reports=ReportService(ReportStore(db), events, core.account_store, rooms),
        background=(indexer.run,),
    )
