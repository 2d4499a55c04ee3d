"""Server admin, shared by the admin API and the admin pages: people, rooms, invites (registration
tokens), reports, the settings changed after setup, announcements. Built on first use
(appliance/hearth.py): no listeners, no background work, and its modules are not imported at
start-up."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.services.account_moderation import AccountModerationService
from ..core.services.admin_reports import AdminReportService
from ..core.services.admin_rooms import AdminRoomService
from ..core.services.admin_settings import AdminSettingsService
from ..core.services.admin_users import AdminUserService
from ..core.services.announcements import AnnouncementService
from ..core.services.registration_tokens import RegistrationTokenService
from ..core.storage.stores.account_moderation import AccountModerationStore
from ..core.storage.stores.admin import AdminStore, EventReportStore
from ..core.storage.stores.uia import UiaStore
from ..core.services.appservices.bridge_setup import BridgeSetup
from .accounts import Accounts
from .appservices import AppServices
from .core import Core
from .reading import Reading
from .rooms import Rooms
from .web import Web


@dataclass(frozen=True, slots=True, eq=False)
class Admin:
    users: AdminUserService
    rooms: AdminRoomService
    registration_tokens: RegistrationTokenService
    reports: AdminReportService
    moderation: AccountModerationService  # locking and suspending accounts
    settings: AdminSettingsService
    announcements: AnnouncementService
    external_bridges: BridgeSetup  # appservices added, checked and removed from the pages


def build_admin(core: Core, appservices: AppServices, rooms: Rooms, accounts: Accounts, reading: Reading,
                web: Web) -> Admin:
    store = AdminStore(core.db)
    return Admin(
        users=AdminUserService(core.server_name, core.account_store, accounts.registration, accounts.login,
                               accounts.devices, accounts.deactivation, accounts.profiles, core.auth, store),
        rooms=AdminRoomService(core.server_name, core.event_store, core.pipeline, rooms.creation, rooms.messages,
                               rooms.membership, rooms.aliases, reading.rooms.formatter, store),
        registration_tokens=RegistrationTokenService(accounts.registration, UiaStore(core.db), store),
        reports=AdminReportService(core.event_store, EventReportStore(core.db)),
        moderation=AccountModerationService(core.server_name, core.account_store, AccountModerationStore(core.db),
                                            core.auth, core.event_store),
        settings=AdminSettingsService(core.settings, web.server_settings, accounts.presence),
        announcements=AnnouncementService(core.account_store, accounts.server_notices),
        external_bridges=BridgeSetup(appservices.registry, appservices.client, appservices.store, core.account_store,
                                     rooms.membership),
    )
