"""Accounts: registration, login (and user-interactive auth), devices, profiles, deactivation, and
what belongs to one account: account data, filters, presence, the user directory, OpenID tokens,
server notices."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.services.account_data import AccountDataService
from ..core.services.account_reads import AccountReads
from ..core.services.accounts.deactivation import Deactivation
from ..core.services.accounts.devices import Devices
from ..core.services.accounts.login import CredentialsChanged, Login
from ..core.services.accounts.names import AccountNames
from ..core.services.accounts.passwords import PasswordCheck
from ..core.services.accounts.profiles import Profiles
from ..core.services.accounts.registration import Registration
from ..core.services.accounts.uia import UserInteractiveAuth
from ..core.services.filtering import FilterService
from ..core.services.login_throttle import LoginThrottle
from ..core.services.oauth import OAuthService, build_oauth
from ..core.services.openid import OpenIdService
from ..core.services.presence import PresenceService
from ..core.services.server_notices import ServerNoticeService
from ..core.services.shared_secret_registration import SharedSecretRegistration, load_or_create_secret
from ..core.services.user_directory import UserDirectoryService
from ..core.signals import AsyncEvent
from ..core.storage.stores.account_data import AccountDataStore
from ..core.storage.stores.filters import FilterStore
from ..core.storage.stores.oauth import OAuthStore
from ..core.storage.stores.openid import OpenIdTokenStore
from ..core.storage.stores.presence import PresenceStore
from ..core.storage.stores.server_notices import ServerNoticeStore
from ..core.storage.stores.uia import UiaStore
from ..core.storage.stores.user_directory import UserDirectoryStore
from ..core.services.appservices.queries import AppServiceQueries
from .core import Background, Core
from .rooms import Rooms


@dataclass(frozen=True, slots=True, eq=False)
class Accounts:
    registration: Registration
    login: Login  # login, refresh, logout, passwords
    uia: UserInteractiveAuth
    devices: Devices
    profiles: Profiles
    deactivation: Deactivation
    shared_secret: SharedSecretRegistration  # /_synapse/admin/v1/register
    reads: AccountReads  # what the web pages read of an account
    # After devices are deleted (logout, deletion, deactivation): listener(user_id, device_ids).
    devices_deleted: AsyncEvent[[str, list[str]]]
    # After a device is made (by any path): listener(user_id, device_id).
    device_added: AsyncEvent[[str, str]]
    account_data: AccountDataService
    filters: FilterService
    presence: PresenceService
    directory: UserDirectoryService
    openid: OpenIdService
    server_notices: ServerNoticeService
    oauth: OAuthService  # the OAuth 2.0 API (auth_metadata, client registration, grants)
    background: tuple[Background, ...]


def build_accounts(core: Core, appservice_queries: AppServiceQueries, rooms: Rooms, credentials_changed: CredentialsChanged
                   ) -> Accounts:
    """`credentials_changed(user_id)`: after a password change or reset and after deactivation
    (every web session of the account ends); a failure propagates."""
    s, db, store = core.settings, core.db, core.account_store
    devices_deleted: AsyncEvent[[str, list[str]]] = AsyncEvent("devices deleted")
    device_added: AsyncEvent[[str, str]] = AsyncEvent("device added")
    presence = PresenceService(db, PresenceStore(db), store, core.stream, s.server_name,
                               enabled=s.presence_enabled, max_sync_timeout_ms=s.sync_timeout_max_ms,
                               idle_after_ms=int(s.presence_idle_after_s * 1000),
                               sync_grace_ms=int(s.presence_offline_after_s * 1000))
    core.persisted.subscribe(presence.on_event)
    throttle = LoginThrottle(s.login_failures_per_second, s.login_failures_burst, s.login_lockout_failures,
                             s.login_lockout_minutes * 60)
    names = AccountNames(s.server_name, store, core.appservice_registry)
    passwords = PasswordCheck(store, core.auth, names, throttle)
    uia = UserInteractiveAuth(UiaStore(db), passwords, s.base_url)
    devices = Devices(store, core.auth, uia, devices_deleted, device_added)
    login = Login(s, store, core.auth, names, passwords, uia, devices, credentials_changed)
    registration = Registration(s, store, core.auth, names, uia, login)
    account_data = AccountDataService(db, AccountDataStore(db), core.stream)
    oauth = build_oauth(OAuthStore(db), store, login, devices, s.base_url)
    devices_deleted.subscribe(oauth.devices_deleted)
    return Accounts(
        registration=registration,
        login=login,
        uia=uia,
        devices=devices,
        profiles=Profiles(s.server_name, store, rooms.membership, appservice_queries),
        deactivation=Deactivation(store, core.auth, uia, devices, login, rooms.membership),
        shared_secret=SharedSecretRegistration(  # the secret is made at the first start
            load_or_create_secret(s.registration_secret_path), lambda: s.registration_shared_secret_enabled,
            registration, store, core.auth, s.server_name),
        reads=AccountReads(store),
        devices_deleted=devices_deleted,
        device_added=device_added,
        account_data=account_data,
        filters=FilterService(FilterStore(db)),
        presence=presence,
        directory=UserDirectoryService(UserDirectoryStore(db)),
        openid=OpenIdService(OpenIdTokenStore(db), s.server_name),
        server_notices=ServerNoticeService(ServerNoticeStore(db), store, rooms.creation, rooms.messages,
                                           core.event_store, account_data, s.server_name),
        oauth=oauth,
        background=(presence.run,),
    )
