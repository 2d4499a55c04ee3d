"""The core: settings, the database and its stores, the stream, the signing key, access tokens,
rate limits, the send pipeline, and what keeps the data safe (backups, the health report)."""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..core.protocol.signing import SigningKey
from ..core.services.appservices.registry import AppServiceRegistry
from ..core.services.auth import AuthService
from ..core.services.backup import BackupService
from ..core.services.health import HealthService
from ..core.services.pipeline import EventPipeline, Persisted
from ..core.services.ratelimit import RateLimiter
from ..core.services.server_keys import load_or_create_signing_key
from ..core.signals import Event
from ..core.storage.database import Database
from ..core.storage.migrate import apply_migrations
from ..core.storage.private_files import secure_data_dir
from ..core.storage.stores.backup_runs import BackupRunStore
from ..core.storage.stores.accounts import AccountStore
from ..core.storage.stores.appservices import AppServiceStore
from ..core.storage.stores.events import EventStore
from ..core.storage.stores.state import StateStore
from ..core.stream import Stream
from ..settings import Settings

# Work a group runs while the server serves (app.py starts each as a task, cancels it at the end).
Background = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True, eq=False)
class Core:
    settings: Settings
    db: Database
    stream: Stream
    signing_key: SigningKey
    account_store: AccountStore
    event_store: EventStore
    state_store: StateStore
    appservice_registry: AppServiceRegistry  # the installed application services (as_tokens, namespaces)
    auth: AuthService
    ratelimiter: RateLimiter
    login_ratelimiter: RateLimiter
    registration_ratelimiter: RateLimiter
    persisted: Event[[Persisted]]  # after an event is committed (presence; stream consumers read the stream)
    pipeline: EventPipeline
    backups: BackupService  # scheduled backups start with the server: `backups.start()`
    health: HealthService
    started_at: float

    @property
    def server_name(self) -> str:
        return self.settings.server_name


async def build_core(settings: Settings) -> Core:
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
    persisted: Event[[Persisted]] = Event("event persisted")
    appservices = AppServiceRegistry(AppServiceStore(db), accounts, settings.server_name)
    await appservices.load()
    db.health.admin_contact = settings.base_url()
    backups = BackupService(BackupRunStore(db), settings)
    return Core(
        settings=settings,
        db=db,
        stream=stream,
        signing_key=signing_key,
        account_store=accounts,
        event_store=events,
        state_store=state,
        appservice_registry=appservices,
        auth=AuthService(accounts, settings.refresh_access_token_lifetime_ms, appservices),
        ratelimiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        login_ratelimiter=RateLimiter(settings.login_rate_per_second, settings.login_rate_burst),
        registration_ratelimiter=RateLimiter(settings.registration_rate_per_second,
                                             settings.registration_rate_burst),
        persisted=persisted,
        pipeline=EventPipeline(db, events, state, stream, settings.server_name, signing_key, persisted,
                               settings.max_event_bytes),
        backups=backups,
        health=HealthService(db.health, settings.data_dir, settings.min_free_mb * 1024 * 1024, backups),
        started_at=time.time(),
    )


def _load_stored_settings(settings: Settings, db: Database) -> None:
    """Defaults < stored by the wizard / web UI < HEARTH_* (DESIGN decision 8)."""
    from ..core.services.server_settings import ServerSettingsService
    from ..core.storage.stores.server_settings import ServerSettingsStore

    db.run_unqueued(ServerSettingsService(settings, ServerSettingsStore(db)).load_job)
