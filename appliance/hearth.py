"""Hearth: the services of one server, in a few typed, frozen groups (appliance/groups/).

`build_hearth` builds the groups in dependency order, each in one expression by its own module;
the admin and media groups are built on first use. A service's constructor takes only the
collaborators it uses, never the Hearth; the HTTP layer gets the Hearth and calls one service per
request, through its group (`hearth.rooms.membership`, `hearth.reading.sync`, `hearth.e2ee.device_keys`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .core.services.appservices.client import AppServiceClient
from .core.services.appservices.queries import AppServiceQueries
from .groups.accounts import Accounts, build_accounts
from .groups.appservices import AppServices, build_appservices
from .groups.bridges import Bridges, build_bridges
from .groups.core import Background, Core, build_core
from .groups.e2ee import E2ee, build_e2ee
from .groups.on_first_use import OnFirstUse
from .groups.push import Push, build_push
from .groups.reach import Reach, build_reach
from .groups.reading import Reading, build_reading
from .groups.rooms import Rooms, build_rooms
from .groups.web import Process, Web, build_web, build_web_sessions
from .settings import Settings

if TYPE_CHECKING:  # built on first use: their modules are not imported at start-up
    from .groups.admin import Admin
    from .groups.federation import Federation
    from .groups.media import Media


@dataclass(frozen=True, slots=True, eq=False)
class Hearth:
    core: Core
    appservices: AppServices
    rooms: Rooms
    accounts: Accounts
    e2ee: E2ee
    push: Push
    reading: Reading
    web: Web
    bridges: Bridges
    reach: Reach  # outside access: the certificate and its renewal (issue 18)
    built_admin: OnFirstUse[Admin]
    built_media: OnFirstUse[Media]
    built_federation: OnFirstUse[Federation]  # federation (issue 18)

    @property
    def admin(self) -> Admin:
        return self.built_admin.get()

    @property
    def media(self) -> Media:
        return self.built_media.get()

    @property
    def federation(self) -> Federation:
        return self.built_federation.get()

    @property
    def settings(self) -> Settings:
        return self.core.settings

    @property
    def server_name(self) -> str:
        return self.core.settings.server_name

    @property
    def background(self) -> tuple[Background, ...]:
        """What runs while the server serves (app.py starts each as a task, cancels it at the end)."""
        federation = (self.federation.sender.run,) if self.settings.federation_enabled else ()
        return (*federation, *self.appservices.background, *self.accounts.background, *self.push.background,
                *self.reading.background, *self.web.background, *self.bridges.background, *self.reach.background)

    async def close(self) -> None:
        await self.core.backups.stop()
        await self.reach.certificates.aclose()
        if self.built_federation.built:  # federation (issue 18): its HTTP connections
            await self.federation.sender.stop()
            await self.federation.client.aclose()
        await self.core.db.close()


async def build_hearth(settings: Settings, process: Process | None = None) -> Hearth:
    """`process`: the parts of the serving process (app.py); a Hearth that serves nothing (the
    operator commands, tests of services) gets its own."""
    core = await build_core(settings)
    # Rooms and accounts ask the appservices about users and aliases nobody has yet; the group
    # that sends them transactions comes after the reading side, whose typing and presence it carries.
    appservice_client = AppServiceClient()
    appservice_queries = AppServiceQueries(core.appservice_registry, appservice_client)
    sessions = build_web_sessions(core)
    # Admin needs the rooms, and the rooms refuse a join to a room the admin blocked: the check is
    # the admin service's, reached through its holder when it runs (the first join builds it).
    admin: OnFirstUse[Admin] = OnFirstUse(lambda: _build_admin(core, appservices, rooms, accounts, reading, web))
    rooms = build_rooms(core, appservice_queries, lambda room_id, user_id, membership: admin.get().rooms.check_not_blocked(
        room_id, user_id, membership))
    accounts = build_accounts(core, appservice_queries, rooms, sessions.delete_for_user)
    e2ee = build_e2ee(core, accounts)
    push = build_push(core, accounts)
    reading = build_reading(core, accounts, e2ee, push)
    appservices = build_appservices(core, appservice_client, appservice_queries, accounts, e2ee, reading)
    web = build_web(core, accounts, reading, sessions, process or Process.alone())
    federation: OnFirstUse[Federation] = OnFirstUse(lambda: _build_federation(core, e2ee, reading, accounts))
    return Hearth(core=core, appservices=appservices, rooms=rooms, accounts=accounts, e2ee=e2ee, push=push, reading=reading, web=web,
                  bridges=build_bridges(core, rooms, accounts, reading, web), reach=build_reach(core, web),
                  built_admin=admin, built_media=OnFirstUse(lambda: _build_media(core, federation)),
                  built_federation=federation)


def _build_admin(core: Core, appservices: AppServices, rooms: Rooms, accounts: Accounts, reading: Reading,
                 web: Web) -> Admin:
    from .groups.admin import build_admin

    return build_admin(core, appservices, rooms, accounts, reading, web)


def _build_media(core: Core, federation: OnFirstUse[Federation]) -> Media:
    from .groups.media import build_media

    if not core.settings.federation_enabled:
        return build_media(core)

    async def fetch_remote(server_name: str, media_id: str) -> tuple[bytes, str | None, str | None]:
        return await federation.get().media.fetch(server_name, media_id)

    return build_media(core, fetch_remote)


def _build_federation(core: Core, e2ee: E2ee, reading: Reading, accounts: Accounts) -> Federation:
    from .groups.federation import build_federation

    return build_federation(core, e2ee, reading, accounts.presence)
