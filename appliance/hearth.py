"""Hearth: the services of one server, built in dependency order by `build_hearth`.

A service's constructor takes only the collaborators it uses, never the whole Hearth; the
HTTP layer gets the Hearth and calls one service per request.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .core.protocol.signing import SigningKey
from .core.services.auth import AuthService
from .core.services.pipeline import EventPipeline
from .core.services.ratelimit import RateLimiter
from .core.services.server_keys import load_or_create_signing_key
from .core.storage.database import Database
from .core.storage.migrate import apply_migrations
from .core.storage.private_files import secure_data_dir
from .core.storage.stores.accounts import AccountStore
from .core.storage.stores.events import EventStore
from .core.storage.stores.state import StateStore
from .core.stream import Stream
from .settings import Settings

if TYPE_CHECKING:  # services built after the core; typed here, imported lazily below
    from .core.services.server_settings import ServerSettingsService
    from .core.services.setup import SetupService
    from .core.storage.stores.web_sessions import WebSessionStore
    from .core.services.accounts.deactivation import Deactivation
    from .core.services.accounts.devices import Devices
    from .core.services.accounts.login import Login
    from .core.services.accounts.profiles import Profiles
    from .core.services.accounts.registration import Registration
    from .core.services.dehydrated_devices import DehydratedDeviceService
    from .core.services.rooms.aliases import RoomAliases
    from .core.services.rooms.create import RoomCreation
    from .core.services.rooms.membership import Membership
    from .core.services.rooms.messages import RoomMessages
    from .core.services.rooms.upgrade import RoomUpgrades
    from .core.services.sync import SyncService
    from .core.services.account_data import AccountDataService
    from .core.services.filtering import FilterService
    from .core.services.receipts import ReceiptService
    from .core.services.room_read import RoomReadService
    from .core.services.typing import TypingService
    from .core.services.user_directory import UserDirectoryService
    from .core.services.device_keys import DeviceKeyService
    from .core.services.e2ee import E2eeService
    from .core.services.key_backup import KeyBackupService
    from .core.services.to_device import ToDeviceService
    from .core.services.media.preview import UrlPreviewService
    from .core.services.media.repository import MediaService
    from .core.services.admin_settings import AdminSettingsService
    from .core.services.announcements import AnnouncementService
    from .core.services.data_export import DataExportService
    from .core.services.server_status import ServerStatusService
    from .core.services.push import PushService
    from .core.services.push_rules import PushRuleService
    from .core.services.notification_retention import NotificationRetention
    from .core.services.pushers import PusherService
    from .core.services.backup import BackupService
    from .core.services.health import HealthService
    from .core.services.admin_users import AdminUserService
    from .core.services.admin_rooms import AdminRoomService
    from .core.services.registration_tokens import RegistrationTokenService
    from .core.services.admin_reports import AdminReportService
    from .core.services.account_moderation import AccountModerationService
    from .core.services.presence import PresenceService
    from .core.services.search import SearchService
    from .core.services.spaces import SpaceHierarchyService
    from .core.services.reports import ReportService
    from .core.services.room_summary import RoomSummaryService
    from .core.services.openid import OpenIdService
    from .core.services.server_notices import ServerNoticeService
    from .core.services.shared_secret_registration import SharedSecretRegistration

log = logging.getLogger(__name__)


@dataclass
class Hearth:
    settings: Settings
    db: Database
    stream: Stream
    signing_key: SigningKey
    accounts: AccountStore
    auth: AuthService
    ratelimiter: RateLimiter
    login_ratelimiter: RateLimiter
    registration_ratelimiter: RateLimiter
    events: EventStore
    state: StateStore
    pipeline: EventPipeline
    # Client-facing services (set by build_hearth).
    registration: "Registration" = None  # type: ignore[assignment]
    login: "Login" = None  # type: ignore[assignment]
    devices: "Devices" = None  # type: ignore[assignment]
    deactivation: "Deactivation" = None  # type: ignore[assignment]
    profiles: "Profiles" = None  # type: ignore[assignment]
    room_creation: "RoomCreation" = None  # type: ignore[assignment]
    membership: "Membership" = None  # type: ignore[assignment]
    room_messages: "RoomMessages" = None  # type: ignore[assignment]
    room_upgrades: "RoomUpgrades" = None  # type: ignore[assignment]
    room_aliases: "RoomAliases" = None  # type: ignore[assignment]
    sync: "SyncService" = None  # type: ignore[assignment]
    account_data: "AccountDataService" = None  # type: ignore[assignment]
    receipts: "ReceiptService" = None  # type: ignore[assignment]
    typing: "TypingService" = None  # type: ignore[assignment]
    filters: "FilterService" = None  # type: ignore[assignment]
    room_read: "RoomReadService" = None  # type: ignore[assignment]
    user_directory: "UserDirectoryService" = None  # type: ignore[assignment]
    device_keys: "DeviceKeyService" = None  # type: ignore[assignment]
    to_device: "ToDeviceService" = None  # type: ignore[assignment]
    key_backup: "KeyBackupService" = None  # type: ignore[assignment]
    e2ee: "E2eeService" = None  # type: ignore[assignment]
    push_rules: "PushRuleService" = None  # type: ignore[assignment]
    push: "PushService" = None  # type: ignore[assignment]
    pushers: "PusherService" = None  # type: ignore[assignment]
    notification_retention: "NotificationRetention" = None  # type: ignore[assignment]
    # Coroutine functions run as background tasks while the app serves (app.py while_serving).
    background: list = field(default_factory=list)
    backups: "BackupService" = None  # type: ignore[assignment]  # _build_durability_services
    health: "HealthService" = None  # type: ignore[assignment]
    dehydrated_devices: "DehydratedDeviceService" = None  # type: ignore[assignment]
    # Presence, search, spaces, reports, OpenID, server notices (_build_everyday_services).
    presence: "PresenceService" = None  # type: ignore[assignment]
    search: "SearchService" = None  # type: ignore[assignment]
    spaces: "SpaceHierarchyService" = None  # type: ignore[assignment]
    room_summary: "RoomSummaryService" = None  # type: ignore[assignment]
    reports: "ReportService" = None  # type: ignore[assignment]
    openid: "OpenIdService" = None  # type: ignore[assignment]
    server_notices: "ServerNoticeService" = None  # type: ignore[assignment]
    # Server admin (_build_admin_services): shared by the admin API and the admin pages.
    admin_users: "AdminUserService" = None  # type: ignore[assignment]
    admin_rooms: "AdminRoomService" = None  # type: ignore[assignment]
    registration_tokens: "RegistrationTokenService" = None  # type: ignore[assignment]
    admin_reports: "AdminReportService" = None  # type: ignore[assignment]
    account_moderation: "AccountModerationService" = None  # type: ignore[assignment]
    # Stored settings, setup state and web sessions (_build_setup_services).
    server_settings: "ServerSettingsService" = None  # type: ignore[assignment]
    setup: "SetupService" = None  # type: ignore[assignment]
    web_sessions: "WebSessionStore" = None  # type: ignore[assignment]
    shared_secret_registration: "SharedSecretRegistration" = None  # type: ignore[assignment]
    # Content repository and URL previews (_build_media_services).
    media: "MediaService" = None  # type: ignore[assignment]
    url_previews: "UrlPreviewService" = None  # type: ignore[assignment]
    # The web UI's own (_build_webui_services).
    server_status: "ServerStatusService" = None  # type: ignore[assignment]
    admin_settings: "AdminSettingsService" = None  # type: ignore[assignment]
    data_export: "DataExportService" = None  # type: ignore[assignment]
    announcements: "AnnouncementService" = None  # type: ignore[assignment]
    started_at: float = field(default_factory=time.time)

    @property
    def server_name(self) -> str:
        return self.settings.server_name

    async def close(self) -> None:
        if self.backups is not None:
            await self.backups.stop()
        await self.db.close()


async def build_hearth(settings: Settings) -> Hearth:
    secure_data_dir(settings.data_dir)  # 0700, its files 0600
    db = Database(settings.database_path)
    await db.open()
    db.run_unqueued(lambda conn: apply_migrations(conn, "core", "appliance.core.storage.migrations"))
    stream = Stream()
    db.run_unqueued(stream.load)
    _load_stored_settings(settings, db)  # before any service reads the settings
    signing_key = load_or_create_signing_key(settings.signing_key_path)
    accounts = AccountStore(db)
    events = EventStore(db)
    state = StateStore(db)
    db.run_unqueued(state.load)
    pipeline = EventPipeline(db, events, state, stream, settings.server_name, signing_key, settings.max_event_bytes)
    hearth = Hearth(
        settings=settings,
        db=db,
        stream=stream,
        signing_key=signing_key,
        accounts=accounts,
        auth=AuthService(accounts, settings.refresh_access_token_lifetime_ms),
        ratelimiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        login_ratelimiter=RateLimiter(settings.login_rate_per_second, settings.login_rate_burst),
        registration_ratelimiter=RateLimiter(settings.registration_rate_per_second, settings.registration_rate_burst),
        events=events,
        state=state,
        pipeline=pipeline,
    )
    _build_client_services(hearth)
    return hearth


def _build_room_services(h: Hearth) -> None:
    """The writing side of rooms, one service per job (services/rooms/)."""
    from .core.services.rooms.aliases import RoomAliases
    from .core.services.rooms.create import RoomCreation
    from .core.services.rooms.lookup import RoomLookup
    from .core.services.rooms.membership import Membership
    from .core.services.rooms.messages import RoomMessages
    from .core.services.rooms.upgrade import RoomUpgrades
    from .core.storage.stores.rooms import RoomStore

    store = RoomStore(h.db)
    lookup = RoomLookup(h.events)
    h.room_aliases = RoomAliases(h.server_name, h.events, h.pipeline, store, lookup)
    h.membership = Membership(h.server_name, h.events, h.pipeline, h.accounts, store, h.room_aliases, lookup)
    h.room_messages = RoomMessages(h.events, h.pipeline, store, lookup)
    h.room_creation = RoomCreation(h.settings, h.pipeline, store, h.membership)
    h.room_upgrades = RoomUpgrades(h.server_name, h.events, h.pipeline, store, h.membership, lookup)


def _build_account_services(h: Hearth) -> None:
    """Accounts, one service per job (services/accounts/)."""
    from .core.services.accounts.deactivation import Deactivation
    from .core.services.accounts.devices import Devices
    from .core.services.accounts.login import Login
    from .core.services.accounts.names import AccountNames
    from .core.services.accounts.passwords import PasswordCheck
    from .core.services.accounts.profiles import Profiles
    from .core.services.accounts.registration import Registration
    from .core.services.accounts.uia import UserInteractiveAuth
    from .core.services.login_throttle import LoginThrottle
    from .core.storage.stores.uia import UiaStore

    s = h.settings
    login_throttle = LoginThrottle(s.login_failures_per_second, s.login_failures_burst, s.login_lockout_failures,
                                   s.login_lockout_minutes * 60)
    names = AccountNames(h.server_name, h.accounts)
    passwords = PasswordCheck(h.accounts, h.auth, names, login_throttle)
    uia = UserInteractiveAuth(UiaStore(h.db), passwords)
    h.devices = Devices(h.accounts, h.auth, uia)
    h.login = Login(h.settings, h.accounts, h.auth, names, passwords, uia, h.devices)
    h.registration = Registration(h.settings, h.accounts, h.auth, names, uia, h.login)
    h.deactivation = Deactivation(h.accounts, h.auth, uia, h.devices, h.login, h.membership)
    h.profiles = Profiles(h.server_name, h.accounts, h.membership)


def _build_client_services(h: Hearth) -> None:
    # Each service is added here by its owner, in dependency order.

    _build_room_services(h)
    _build_account_services(h)
    _build_e2ee_services(h)
    _build_read_services(h)
    _build_push_services(h)
    _build_setup_services(h)
    _build_durability_services(h)
    _build_everyday_services(h)
    # Built on first use (the admin API and pages, media, web pages: no listeners, no background
    # work): their modules are not imported at start-up. Wiring that must hold from the start
    # goes through the Hearth, which builds the service when it is first called.
    _build_lazily(h, _build_admin_services, "admin_users", "admin_rooms", "registration_tokens", "admin_reports",
                  "account_moderation")
    h.membership.membership_checks.append(lambda *args: h.admin_rooms.check_not_blocked(*args))
    _build_lazily(h, _build_media_services, "media", "url_previews")
    _build_webui_services(h)
    pass


class _BuiltOnFirstUse:
    """The class attribute of a service built on first use: reading it from a Hearth that has
    no value of its own yet runs the builder, which sets the instance's value (read directly
    from then on: a non-data descriptor, the instance's dict wins). Otherwise None, the field's
    default."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Hearth | None, owner: type | None = None):
        if obj is None:
            return None
        builder = obj.__dict__.get("_lazy", {}).pop(self.name, None)
        if builder is None:
            return None
        builder(obj)
        return obj.__dict__.get(self.name)


def _build_lazily(h: Hearth, builder, *names: str) -> None:
    """`builder(h)` sets `names`; it runs when one of them is first read."""
    lazy = h.__dict__.setdefault("_lazy", {})
    for name in names:
        if not isinstance(Hearth.__dict__.get(name), _BuiltOnFirstUse):
            setattr(Hearth, name, _BuiltOnFirstUse(name))
        h.__dict__.pop(name, None)
        lazy[name] = lambda h, names=names: _run_lazy_builder(h, builder, names)


def _run_lazy_builder(h: Hearth, builder, names: tuple[str, ...]) -> None:
    for name in names:
        h.__dict__["_lazy"].pop(name, None)
    builder(h)


def _build_webui_services(h: Hearth) -> None:
    """The web UI's own: dashboard numbers (sampled in the background from the start); settings
    changed after setup, a user's data export and announcements (built on first use)."""
    from .core.services.server_status import ServerStatusService
    from .core.storage.stores.disk_samples import DiskSampleStore
    from .core.storage.stores.media import MediaStore
    from .lan_discovery import hearth_version

    s = h.settings
    h.server_status = ServerStatusService(DiskSampleStore(h.db), MediaStore(h.db), s.data_dir, s.database_path,
                                          h.started_at, hearth_version(), h.health)
    h.background.append(h.server_status.run)
    _build_lazily(h, _build_webui_page_services, "admin_settings", "data_export", "announcements")


def _build_webui_page_services(h: Hearth) -> None:
    from .core.services.admin_settings import AdminSettingsService
    from .core.services.announcements import AnnouncementService
    from .core.services.data_export import DataExportService
    from .core.storage.stores.account_data import AccountDataStore
    from .core.storage.stores.admin import AdminStore
    from .core.storage.stores.media import MediaStore
    from .core.storage.stores.rooms import RoomStore

    s = h.settings
    h.admin_settings = AdminSettingsService(s, h.server_settings, h.presence)
    h.data_export = DataExportService(h.events, h.state, h.accounts, RoomStore(h.db), AdminStore(h.db),
                                      AccountDataStore(h.db), MediaStore(h.db), h.profiles,
                                      h.room_read.formatter, h.room_read.visibility)
    h.announcements = AnnouncementService(h.accounts, h.server_notices)


def _build_media_services(h: Hearth) -> None:
    from .core.services.media.preview import UrlPreviewService
    from .core.services.media.repository import MediaLimits, MediaService
    from .core.storage.stores.media import ContentFiles, MediaStore

    s = h.settings

    def limits() -> MediaLimits:  # read at each use: a change in the web pages applies at once
        return MediaLimits(s.max_upload_bytes, s.media_quota_bytes, s.freeze_legacy_media, s.base_url() + "/")

    h.media = MediaService(MediaStore(h.db), ContentFiles(s.data_dir / "media"), h.server_name, limits)
    h.url_previews = UrlPreviewService(h.media, lambda: s.url_previews)


def _build_e2ee_services(h: Hearth) -> None:
    from .core.services.device_keys import DeviceKeyService
    from .core.services.e2ee import E2eeService
    from .core.services.key_backup import KeyBackupService
    from .core.services.to_device import ToDeviceService
    from .core.storage.stores.e2e_keys import E2eKeyStore
    from .core.storage.stores.key_backup import KeyBackupStore
    from .core.storage.stores.to_device import ToDeviceStore

    h.device_keys = DeviceKeyService(h.db, E2eKeyStore(h.db), h.stream, h.server_name)
    to_device_store = ToDeviceStore(h.db)
    h.to_device = ToDeviceService(h.db, to_device_store, h.stream, h.server_name)
    h.key_backup = KeyBackupService(KeyBackupStore(h.db))
    h.e2ee = E2eeService(h.device_keys, h.to_device)
    if h.devices is not None:
        h.devices.devices_deleted_listeners.append(h.e2ee.on_devices_deleted)
        from .core.services.dehydrated_devices import DehydratedDeviceService
        from .core.storage.stores.dehydrated_devices import DehydratedDeviceStore

        h.dehydrated_devices = DehydratedDeviceService(DehydratedDeviceStore(h.db), to_device_store, h.accounts,
                                                       h.device_keys, h.devices.remove_devices)
        h.devices.devices_deleted_listeners.append(h.dehydrated_devices.forget)


def _build_read_services(h: Hearth) -> None:
    """The read side: formatting, visibility, /sync and its side streams."""
    from .core.services.account_data import AccountDataService
    from .core.services.client_events import ClientEventFormatter
    from .core.services.filtering import FilterService
    from .core.services.receipts import ReceiptService
    from .core.services.room_read import RoomReadService
    from .core.services.sync import SyncService
    from .core.services.typing import TypingService
    from .core.services.user_directory import UserDirectoryService
    from .core.services.visibility import Visibility
    from .core.storage.stores.account_data import AccountDataStore
    from .core.storage.stores.filters import FilterStore
    from .core.storage.stores.memberships import MembershipStore
    from .core.storage.stores.receipts import ReceiptStore
    from .core.storage.stores.user_directory import UserDirectoryStore

    h.account_data = AccountDataService(h.db, AccountDataStore(h.db), h.stream)
    h.receipts = ReceiptService(h.db, ReceiptStore(h.db), h.events, h.stream, h.account_data)
    h.typing = TypingService(h.stream)
    h.filters = FilterService(FilterStore(h.db))
    formatter = ClientEventFormatter(h.events, h.state)
    visibility = Visibility(h.events, h.state, h.account_data)
    memberships = MembershipStore(h.db)
    h.room_read = RoomReadService(h.events, h.state, memberships, h.stream, formatter, visibility)
    h.sync = SyncService(memberships, h.events, h.stream, h.room_read, formatter, visibility, h.account_data,
                         h.receipts, h.typing, e2ee=getattr(h, "e2ee", None),
                         max_timeout_ms=h.settings.sync_timeout_max_ms)
    h.user_directory = UserDirectoryService(UserDirectoryStore(h.db))


def _build_everyday_services(h: Hearth) -> None:
    """Presence, server-side search, space hierarchy, reports, OpenID, server notices."""
    from .core.services.openid import OpenIdService
    from .core.services.presence import PresenceService
    from .core.services.reports import ReportService
    from .core.services.search import SearchService
    from .core.services.server_notices import ServerNoticeService
    from .core.services.spaces import SpaceHierarchyService
    from .core.storage.stores.openid import OpenIdTokenStore
    from .core.storage.stores.presence import PresenceStore
    from .core.storage.stores.reports import ReportStore
    from .core.storage.stores.server_notices import ServerNoticeStore

    h.presence = PresenceService(h.db, PresenceStore(h.db), h.accounts, h.stream, h.server_name,
                                 enabled=h.settings.presence_enabled,
                                 max_sync_timeout_ms=h.settings.sync_timeout_max_ms,
                                 idle_after_ms=int(h.settings.presence_idle_after_s * 1000),
                                 sync_grace_ms=int(h.settings.presence_offline_after_s * 1000))
    h.pipeline.listeners.append(h.presence.on_event)
    h.background.append(h.presence.run)
    h.sync.presence = h.presence
    from .core.services.search_index import SearchIndexer
    from .core.storage.stores.search import SearchStore
    from .core.storage.stores.stream_consumers import StreamConsumerStore

    search_store = SearchStore(h.db)
    indexer = SearchIndexer(h.db, h.stream, StreamConsumerStore(h.db), search_store)  # the stream wakes it
    h.search = SearchService(search_store, h.events, h.room_read, indexer)
    h.background.append(indexer.run)
    h.spaces = SpaceHierarchyService(h.events, h.room_aliases)
    from .core.services.room_summary import RoomSummaryService

    h.room_summary = RoomSummaryService(h.room_aliases, h.spaces, h.events)
    h.reports = ReportService(ReportStore(h.db), h.events, h.accounts, h.room_read)
    h.openid = OpenIdService(OpenIdTokenStore(h.db), h.server_name)
    h.server_notices = ServerNoticeService(ServerNoticeStore(h.db), h.accounts, h.room_creation, h.room_messages,
                                           h.events, h.account_data, h.server_name)


def _build_durability_services(h: Hearth) -> None:
    """Backups (scheduled ones start with the server: `h.backups.start()`) and the health report."""
    from .core.services.backup import BackupService
    from .core.services.health import HealthService
    from .core.storage.stores.backup_runs import BackupRunStore

    h.db.health.admin_contact = h.settings.base_url()
    h.backups = BackupService(BackupRunStore(h.db), h.settings)
    h.health = HealthService(h.db.health, h.settings.data_dir, h.settings.min_free_mb * 1024 * 1024, h.backups)


def _build_admin_services(h: Hearth) -> None:
    """Server admin: people, rooms, invites (the admin API and the admin pages share these)."""
    from .core.services.admin_reports import AdminReportService
    from .core.services.admin_rooms import AdminRoomService
    from .core.services.admin_users import AdminUserService
    from .core.services.registration_tokens import RegistrationTokenService
    from .core.storage.stores.admin import AdminStore, EventReportStore
    from .core.storage.stores.uia import UiaStore

    store = AdminStore(h.db)
    h.admin_users = AdminUserService(h.server_name, h.accounts, h.registration, h.login, h.devices, h.deactivation,
                                     h.profiles, h.auth, store)
    h.admin_rooms = AdminRoomService(h.server_name, h.events, h.pipeline, h.room_creation, h.room_messages,
                                     h.membership, h.room_aliases, h.room_read.formatter, store)
    h.registration_tokens = RegistrationTokenService(h.registration, UiaStore(h.db), store)
    h.admin_reports = AdminReportService(h.events, EventReportStore(h.db))
    from .core.services.account_moderation import AccountModerationService
    from .core.storage.stores.account_moderation import AccountModerationStore

    h.account_moderation = AccountModerationService(h.server_name, h.accounts, AccountModerationStore(h.db), h.auth,
                                                    h.events)


def _load_stored_settings(settings: Settings, db: Database) -> None:
    """Defaults < stored by the wizard / web UI < HEARTH_* (DESIGN decision 8)."""
    from .core.services.server_settings import ServerSettingsService
    from .core.storage.stores.server_settings import ServerSettingsStore

    db.run_unqueued(ServerSettingsService(settings, ServerSettingsStore(db)).load_job)


def _build_setup_services(h: Hearth) -> None:
    """Stored settings, the setup state (and its one-time code), web sessions."""
    from .core.services.server_settings import ServerSettingsService
    from .core.services.setup import SetupService
    from .core.storage.stores.server_settings import ServerSettingsStore
    from .core.storage.stores.web_sessions import WebSessionStore

    store = ServerSettingsStore(h.db)
    h.server_settings = ServerSettingsService(h.settings, store)
    h.setup = SetupService(h.settings, store, h.accounts)
    h.db.run_unqueued(h.setup.load_job)
    h.web_sessions = WebSessionStore(h.db)
    # A password change or reset, or a deactivation, ends every web session of the account.
    h.login.credentials_changed_listeners.append(h.web_sessions.delete_for_user)
    from .core.services.shared_secret_registration import SharedSecretRegistration, load_or_create_secret

    s = h.settings
    h.shared_secret_registration = SharedSecretRegistration(  # the secret is made at the first start
        load_or_create_secret(s.registration_secret_path), lambda: s.registration_shared_secret_enabled,
        h.registration, h.accounts, h.auth, h.server_name)


def _build_push_services(h: Hearth) -> None:
    """Push rules, their evaluation on every event, and HTTP pushers."""
    from .core.services.push import PushService
    from .core.services.push_rules import PushRuleService
    from .core.services.pushers import PusherService
    from .core.storage.stores.push import PushStore

    store = PushStore(h.db)
    h.push_rules = PushRuleService(h.account_data)
    from .core.storage.stores.stream_consumers import StreamConsumerStore

    h.push = PushService(h.db, store, h.events, h.state, h.stream, h.push_rules, h.account_data, h.server_name,
                         StreamConsumerStore(h.db))  # the stream wakes it
    h.pushers = PusherService(h.db, store, h.push, h.events, h.stream)
    h.sync.push = h.push
    if h.devices is not None:
        h.devices.devices_deleted_listeners.append(h.pushers.on_devices_deleted)
    h.background += [h.push.run, h.pushers.run]
    from .core.services.notification_retention import NotificationRetention

    h.notification_retention = NotificationRetention(
        h.db, h.push, lambda: h.settings.notification_retention_days,
        lambda: h.settings.notification_prune_interval_hours)
    h.background.append(h.notification_retention.run)
