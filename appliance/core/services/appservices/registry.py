"""The installed application services (application-service-api.md), kept in memory from the
database: who an `as_token` belongs to, who owns a user ID, alias or room ID exclusively, and
installing and removing registrations (the admin pages, `hearth appservice …`).

A registration installed by another process (`hearth appservice install` next to a running
server) is picked up by `watch()`: the command bumps a generation number in the database and waits
until the server has loaded it.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from ...protocol.appservice import Registration, RegistrationError, overlaps, parse_registration
from ...protocol.errors import Exclusive
from ...signals import Event
from ...storage.stores.accounts import AccountStore
from ...storage.stores.appservices import AppServiceStore

log = logging.getLogger(__name__)


class InProcessQueries(Protocol):
    """An in-process bridge's answers to "does this user / alias exist?" (it may make it now)."""

    async def user_exists(self, user_id: str) -> bool: ...

    async def alias_exists(self, alias: str) -> bool: ...


class AppServiceRegistry:
    WATCH_INTERVAL_S = 1.0

    def __init__(self, store: AppServiceStore, accounts: AccountStore, server_name: str):
        self.store = store
        self.accounts = accounts
        self.server_name = server_name
        self._by_id: dict[str, Registration] = {}
        self._by_token: dict[str, Registration] = {}
        # In-process bridges' namespaces (appliance/bridges/): exclusive like an appservice's, with
        # no token and no transactions; not listed among the installed appservices.
        self._in_process: dict[str, Registration] = {}
        self._in_process_queries: dict[str, InProcessQueries] = {}
        self._generation = 0
        # Emitted with the registrations after each (re)load: the transaction sender follows them.
        self.changed: Event[[tuple[Registration, ...]]] = Event("appservices changed")

    # -- reading ----------------------------------------------------------------------------

    def all(self) -> tuple[Registration, ...]:
        return tuple(self._by_id.values())

    def get(self, appservice_id: str) -> Registration | None:
        return self._by_id.get(appservice_id) or self._in_process.get(appservice_id)

    def by_token(self, token: str) -> Registration | None:
        return self._by_token.get(token)

    def exclusive_owner(self, kind: str, value: str) -> Registration | None:
        """The appservice that holds `value` (a user ID, alias or room ID) in an exclusive namespace."""
        for reg in (*self._by_id.values(), *self._in_process.values()):
            if reg.claims(kind, value, exclusive_only=True) or (kind == "users" and value == reg.sender(self.server_name)):
                return reg
        return None

    # -- in-process bridges -----------------------------------------------------------------

    def reserve(self, reg: Registration, queries: InProcessQueries) -> None:
        """Hold an in-process bridge's namespaces (while it is switched on), with what answers
        the queries for users and aliases in them; RegistrationError if an installed
        appservice's exclusive namespaces overlap them."""
        for other in self._by_id.values():
            reason = overlaps(reg, other)
            if reason is not None:
                raise RegistrationError(reason)
        self._in_process[reg.id] = reg
        self._in_process_queries[reg.id] = queries

    def release(self, appservice_id: str) -> None:
        self._in_process.pop(appservice_id, None)
        self._in_process_queries.pop(appservice_id, None)

    def in_process(self) -> list[tuple[Registration, InProcessQueries]]:
        return [(reg, self._in_process_queries[reg.id]) for reg in self._in_process.values()]

    def check_not_exclusive(self, kind: str, value: str, appservice: Registration | None = None) -> None:
        """M_EXCLUSIVE when someone other than its appservice creates `value` in an exclusive
        namespace (registration, aliases, room creation with an alias)."""
        owner = self.exclusive_owner(kind, value)
        if owner is not None and (appservice is None or owner.id != appservice.id):
            what = {"users": "user ID", "aliases": "room alias", "rooms": "room ID"}[kind]
            raise Exclusive(f"The {what} {value} is reserved for the bridge {owner.id!r}")

    def check_claims(self, appservice: Registration, kind: str, value: str) -> None:
        """M_EXCLUSIVE when an appservice acts outside its own namespaces."""
        if kind == "users":
            inside = appservice.is_user(value, self.server_name)
        else:
            inside = appservice.claims(kind, value)
        if not inside:
            raise Exclusive(f"{value} is outside the namespaces of the appservice {appservice.id!r}")

    # -- loading ----------------------------------------------------------------------------

    async def load(self) -> None:
        generation, _ = await self.store.generation()
        by_id: dict[str, Registration] = {}
        for data in await self.store.registrations():
            try:
                reg = parse_registration(data, self.server_name)
            except RegistrationError as exc:  # stored by an older version that checked less
                log.error("appservice %r is not served: %s", data.get("id"), exc)
                continue
            by_id[reg.id] = reg
        self._by_id = by_id
        self._by_token = {reg.as_token: reg for reg in by_id.values()}
        self._generation = generation
        for reg in by_id.values():  # each appservice's bot exists from the start (it has no password)
            if not await self.accounts.user_exists(reg.sender(self.server_name)):
                await self.accounts.create_user(reg.sender(self.server_name), None)
        self.changed.emit(self.all())

    async def watch(self) -> None:
        """Background task of the serving process: reload when another process installed or
        removed a registration, then acknowledge the generation it serves (the command that
        made the change waits for that)."""
        while True:
            try:
                generation, loaded = await self.store.generation()
                if generation != self._generation:
                    await self.load()
                    log.info("appservices reloaded: %s", ", ".join(r.id for r in self.all()) or "none")
                if loaded < self._generation:
                    await self.store.mark_loaded(self._generation)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("appservices: reload failed")
            await asyncio.sleep(self.WATCH_INTERVAL_S)

    # -- installing -------------------------------------------------------------------------

    async def check_installable(self, data: Any) -> Registration:
        """The registration, checked against the installed ones and existing users: installing
        the same registration again is fine (idempotent), anything that clashes is refused with
        RegistrationError saying why."""
        reg = parse_registration(data, self.server_name)
        same = self._by_id.get(reg.id)
        for other in (*self._by_id.values(), *self._in_process.values()):
            if other.id == reg.id:
                continue
            reason = overlaps(reg, other)
            if reason is not None:
                raise RegistrationError(reason)
        if same is None:
            taken = [u.user_id for u in await self.accounts.list_users()
                     if u.user_id != reg.sender(self.server_name) and reg.claims("users", u.user_id, exclusive_only=True)
                     and u.password_hash is not None]
            if taken:
                raise RegistrationError(
                    f"Its exclusive user namespace covers people who already have accounts here: "
                    f"{', '.join(taken[:3])}{' …' if len(taken) > 3 else ''}.")
        return reg

    async def install(self, data: Any) -> Registration:
        reg = await self.check_installable(data)
        await self.store.install(reg.id, reg.source)
        await self.load()
        return reg

    async def remove(self, appservice_id: str) -> bool:
        gone = await self.store.remove(appservice_id)
        await self.load()
        return gone
