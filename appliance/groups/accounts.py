"""Accounts: registration, login, devices, profiles and deactivation (AccountService), and what
belongs to one account: account data, filters, presence, the user directory, OpenID tokens."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.services.account_data import AccountDataService
from ..core.services.account_reads import AccountReads
from ..core.services.accounts import AccountService, CredentialsChanged
from ..core.services.filtering import FilterService
from ..core.services.login_throttle import LoginThrottle
from ..core.services.openid import OpenIdService
from ..core.services.presence import PresenceService
from ..core.services.shared_secret_registration import SharedSecretRegistration, load_or_create_secret
from ..core.services.user_directory import UserDirectoryService
from ..core.signals import AsyncEvent
from ..core.storage.stores.account_data import AccountDataStore
from ..core.storage.stores.filters import FilterStore
from ..core.storage.stores.openid import OpenIdTokenStore
from ..core.storage.stores.presence import PresenceStore
from ..core.storage.stores.user_directory import UserDirectoryStore
from .core import Background, Core


@dataclass(frozen=True, slots=True, eq=False)
class Accounts:
    service: AccountService
    shared_secret: SharedSecretRegistration  # /_synapse/admin/v1/register
    reads: AccountReads  # what the web pages read of an account
    # After devices are deleted (logout, deletion, deactivation): listener(user_id, device_ids).
    devices_deleted: AsyncEvent[[str, list[str]]]
    account_data: AccountDataService
    filters: FilterService
    presence: PresenceService
    directory: UserDirectoryService
    openid: OpenIdService
    background: tuple[Background, ...]


def build_accounts(core: Core, credentials_changed: CredentialsChanged) -> Accounts:
    """`credentials_changed(user_id)`: after a password change or reset and after deactivation
    (every web session of the account ends); a failure propagates."""
    s = core.settings
    devices_deleted: AsyncEvent[[str, list[str]]] = AsyncEvent("devices deleted")
    presence = PresenceService(core.db, PresenceStore(core.db), core.account_store, core.stream, s.server_name,
                               enabled=s.presence_enabled, max_sync_timeout_ms=s.sync_timeout_max_ms,
                               idle_after_ms=int(s.presence_idle_after_s * 1000),
                               sync_grace_ms=int(s.presence_offline_after_s * 1000))
    core.persisted.subscribe(presence.on_event)
    login_throttle = LoginThrottle(s.login_failures_per_second, s.login_failures_burst, s.login_lockout_failures,
                                   s.login_lockout_minutes * 60)
    service = AccountService(s, core.account_store, core.auth, core.db, core.pipeline, login_throttle, devices_deleted,
                             credentials_changed)
    return Accounts(
        service=service,
        shared_secret=SharedSecretRegistration(  # the secret is made at the first start
            load_or_create_secret(s.registration_secret_path), lambda: s.registration_shared_secret_enabled,
            service, core.account_store, core.auth, core.server_name),
        reads=AccountReads(core.account_store),
        devices_deleted=devices_deleted,
        account_data=AccountDataService(core.db, AccountDataStore(core.db), core.stream),
        filters=FilterService(FilterStore(core.db)),
        presence=presence,
        directory=UserDirectoryService(UserDirectoryStore(core.db)),
        openid=OpenIdService(OpenIdTokenStore(core.db), s.server_name),
        background=(presence.run,),
    )
