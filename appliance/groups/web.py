"""The web pages' own: stored settings, the setup state (and its one-time code), web sessions,
the dashboard's numbers and the metrics, a user's data export (built on first use), and what belongs to the
running process rather than to the data (`Process`: the request log, recent errors, backup jobs,
and the server's control: restart, the LAN advertisement)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..core.metrics import RequestMetrics
from ..core.services.metrics_report import MetricsReport
from ..core.services.request_log import ErrorLog, RequestLog
from ..core.services.server_settings import ServerSettingsService
from ..core.services.server_status import ServerStatusService
from ..core.services.setup import SetupService
from ..core.services.web_sessions import WebSessionService
from ..core.storage.stores.disk_samples import DiskSampleStore
from ..core.storage.stores.media import MediaStore
from ..core.storage.stores.server_settings import ServerSettingsStore
from ..core.storage.stores.web_sessions import WebSessionStore
from ..lan_discovery import hearth_version
from .accounts import Accounts
from .core import Background, Core
from .on_first_use import OnFirstUse
from .reading import Reading

if TYPE_CHECKING:  # built on first use: not imported at start-up
    from ..core.services.backup_jobs import BackupJobs
    from ..core.services.data_export import DataExportService


class ServerControl(Protocol):
    """What the process serving Hearth lets the pages do (app.py; `hearth run` restarts the process)."""

    @property
    def restarts_process(self) -> bool:
        """True when `restart_process` runs Hearth again (`hearth run`), False in an app without it."""
        ...

    def restart_process(self) -> None:
        """Stop serving and run Hearth again in this process's place (a staged restore is swapped in)."""
        ...

    async def restart(self) -> None:
        """Serve again from scratch: the process when it can be restarted (after the current answer has
        gone out), otherwise the services, closed and built again here before this returns."""
        ...

    async def setup_completed(self) -> None:
        """Setup is over: the LAN advertisement stops saying it is pending."""
        ...


class NoServer:
    """The control of a Hearth that serves nothing (the command line's operator commands)."""

    restarts_process = False

    def restart_process(self) -> None:
        raise RuntimeError("nothing to restart: this Hearth does not serve")

    async def restart(self) -> None:
        raise RuntimeError("nothing to restart: this Hearth does not serve")

    async def setup_completed(self) -> None:
        return None


@dataclass(frozen=True, slots=True, eq=False)
class Process:
    """Made once per process and kept when the services are built again."""

    request_log: RequestLog   # the admin pages' request log (in memory, bounded)
    error_log: ErrorLog       # and recent warnings and errors
    backup_jobs: OnFirstUse[BackupJobs]  # backups and restores started from the pages
    control: ServerControl
    request_metrics: RequestMetrics = field(default_factory=RequestMetrics)  # answers and their times

    @staticmethod
    def alone() -> Process:
        return Process(RequestLog(), ErrorLog(), OnFirstUse(backup_jobs), NoServer())  # not attached to the logging


def backup_jobs() -> BackupJobs:
    from ..core.services.backup_jobs import BackupJobs

    return BackupJobs()


@dataclass(frozen=True, slots=True, eq=False)
class Web:
    server_settings: ServerSettingsService
    setup: SetupService
    sessions: WebSessionService
    server_status: ServerStatusService
    metrics: MetricsReport  # /_hearth/metrics and the dashboard's figures
    data_export: OnFirstUse[DataExportService]
    process: Process
    background: tuple[Background, ...]


def build_web_sessions(core: Core) -> WebSessionService:
    """Built before the accounts group: a password change ends the account's web sessions."""
    return WebSessionService(WebSessionStore(core.db), ServerSettingsStore(core.db))


def build_web(core: Core, accounts: Accounts, reading: Reading, sessions: WebSessionService, process: Process) -> Web:
    s = core.settings
    store = ServerSettingsStore(core.db)
    setup = SetupService(s, store, core.account_store)
    core.db.run_unqueued(setup.load_job)
    status = ServerStatusService(DiskSampleStore(core.db), MediaStore(core.db), s.data_dir, s.database_path,
                                 core.started_at, hearth_version(), core.health)
    return Web(
        server_settings=ServerSettingsService(s, store),
        setup=setup,
        sessions=sessions,
        server_status=status,
        metrics=MetricsReport(core.db, core.stream, core.pipeline, status, process.request_metrics,
                              {"events": core.event_store.cache, "state": core.state_store.cache},
                              hearth_version(), core.started_at),
        data_export=OnFirstUse(lambda: _data_export(core, accounts, reading)),
        process=process,
        background=(status.run,),
    )


def _data_export(core: Core, accounts: Accounts, reading: Reading) -> DataExportService:
    from ..core.services.data_export import DataExportService

    from ..core.storage.stores.account_data import AccountDataStore
    from ..core.storage.stores.admin import AdminStore
    from ..core.storage.stores.rooms import RoomStore

    db = core.db
    return DataExportService(core.event_store, core.state_store, core.account_store, RoomStore(db), AdminStore(db),
                             AccountDataStore(db), MediaStore(db), accounts.profiles, reading.rooms.formatter,
                             reading.rooms.visibility)
