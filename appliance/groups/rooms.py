"""Rooms: creating and joining them, sending, reading (messages, context, /sync), receipts and
typing, search, the space hierarchy, reports of events, server notices."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.services.client_events import ClientEventFormatter
from ..core.services.receipts import ReceiptService
from ..core.services.reports import ReportService
from ..core.services.room_read import RoomReadService
from ..core.services.room_summary import RoomSummaryService
from ..core.services.rooms import MembershipCheck, RoomService
from ..core.services.search import SearchService
from ..core.services.server_notices import ServerNoticeService
from ..core.services.spaces import SpaceHierarchyService
from ..core.services.sync import SyncService
from ..core.services.typing import TypingService
from ..core.services.visibility import Visibility
from ..core.storage.stores.receipts import ReceiptStore
from ..core.storage.stores.reports import ReportStore
from .accounts import Accounts
from .core import Background, Core
from .e2ee import E2ee
from .push import Push


@dataclass(frozen=True, slots=True, eq=False)
class Rooms:
    service: RoomService
    read: RoomReadService
    sync: SyncService
    receipts: ReceiptService
    typing: TypingService
    search: SearchService
    spaces: SpaceHierarchyService
    summary: RoomSummaryService
    reports: ReportService
    server_notices: ServerNoticeService
    background: tuple[Background, ...]


def build_rooms(core: Core, accounts: Accounts, e2ee: E2ee, push: Push, membership_check: MembershipCheck) -> Rooms:
    """`membership_check(room_id, user_id, membership)` refuses a join, invite or knock by raising."""
    db, events, state = core.db, core.event_store, core.state_store
    rooms = RoomService(core.settings, db, events, core.pipeline, core.account_store, membership_check)
    receipts = ReceiptService(db, ReceiptStore(db), events, core.stream, accounts.account_data)
    typing = TypingService(core.stream, events)
    formatter = ClientEventFormatter(db, events, state)
    visibility = Visibility(events, state, accounts.account_data)
    read = RoomReadService(db, events, state, core.stream, formatter, visibility)
    search = SearchService(db, events, read)
    core.persisted.subscribe(search.indexer.note)
    spaces = SpaceHierarchyService(db, events, rooms)
    return Rooms(
        service=rooms,
        read=read,
        sync=SyncService(db, events, core.stream, read, formatter, visibility, accounts.account_data, receipts,
                         typing, e2ee.sync, accounts.presence, push.service,
                         max_timeout_ms=core.settings.sync_timeout_max_ms),
        receipts=receipts,
        typing=typing,
        search=search,
        spaces=spaces,
        summary=RoomSummaryService(rooms, spaces, events),
        reports=ReportService(ReportStore(db), events, core.account_store, read),
        server_notices=ServerNoticeService(db, core.account_store, rooms, accounts.account_data, core.server_name),
        background=(search.indexer.run,),
    )
