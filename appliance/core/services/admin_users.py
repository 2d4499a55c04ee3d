"""Server admins managing people: list, look up, create or change, reset passwords, deactivate,
whois, the admin flag and devices.

Shared by the Synapse-compatible admin API (`/_synapse/admin/...`) and the admin web pages:
results are dataclasses whose `to_json()` is the Synapse admin API shape.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from ..protocol import ids
from ..protocol.errors import InvalidParam, MissingParam, NotFound, UserInUse
from ..storage.stores.accounts import AccountStore, Device
from ..storage.stores.admin import USER_ORDER, AdminStore, UserRow
from .accounts.profiles import Profiles
from .accounts.deactivation import Deactivation
from .accounts.devices import Devices
from .accounts.login import Login
from .accounts.passwords import MAX_PASSWORD_LENGTH
from .accounts.registration import Registration
from .auth import AuthService

DEFAULT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class AdminUser:
    """A user as the admin API shows it (List Accounts / Query User Account)."""

    name: str
    displayname: str | None
    avatar_url: str | None
    is_guest: bool
    admin: bool
    deactivated: bool
    erased: bool
    creation_ts: int
    last_seen_ts: int | None

    @classmethod
    def from_row(cls, row: UserRow) -> "AdminUser":
        return cls(row.user_id, row.displayname, row.avatar_url, row.is_guest, row.admin, row.deactivated,
                   row.erased, row.created_ts, row.last_seen_ts)

    def to_json(self, *, details: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "is_guest": self.is_guest,
            "admin": self.admin,
            "user_type": None,
            "deactivated": self.deactivated,
            "erased": self.erased,
            "shadow_banned": False,
            "displayname": self.displayname,
            "avatar_url": self.avatar_url,
            "creation_ts": self.creation_ts,
            "last_seen_ts": self.last_seen_ts,
            "locked": False,
        }
        if details:
            out.update({"threepids": [], "external_ids": [], "appservice_id": None,
                        "consent_server_notice_sent": None, "consent_version": None, "consent_ts": None,
                        "suspended": False})
        return out


@dataclass(frozen=True, slots=True)
class UserPage:
    users: list[AdminUser]
    total: int
    next_token: str | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"users": [u.to_json() for u in self.users], "total": self.total}
        if self.next_token is not None:
            out["next_token"] = self.next_token
        return out


@dataclass(frozen=True, slots=True)
class AdminDevice:
    user_id: str
    device_id: str
    display_name: str | None
    last_seen_ip: str | None
    last_seen_ts: int | None
    last_seen_user_agent: str | None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"device_id": self.device_id, "user_id": self.user_id,
                               "last_seen_ip": self.last_seen_ip, "last_seen_ts": self.last_seen_ts,
                               "last_seen_user_agent": self.last_seen_user_agent, "dehydrated": False}
        if self.display_name is not None:
            out["display_name"] = self.display_name
        return out


@dataclass(frozen=True, slots=True)
class UserChanges:
    """PUT /_synapse/admin/v2/users/{user_id}: each field None means "leave as it is"."""

    password: str | None = None
    logout_devices: bool = True
    displayname: str | None = None
    avatar_url: str | None = None
    admin: bool | None = None
    deactivated: bool | None = None


@dataclass(frozen=True, slots=True)
class Whois:
    user_id: str
    # device_id -> connections [{ip, last_seen, user_agent}]
    devices: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id,
                "devices": {d: {"sessions": [{"connections": c}]} for d, c in self.devices.items()}}


class AdminUserService:
    def __init__(self, server_name: str, accounts: AccountStore, registration: Registration,
                 login: Login, devices: Devices, deactivation: Deactivation, profiles: Profiles, auth: AuthService, store: AdminStore):
        self.server_name = server_name
        self.accounts = accounts
        self.registration = registration
        self.login = login
        self.devices = devices
        self.deactivation = deactivation
        self.profiles = profiles
        self.auth = auth
        self.store = store

    def local_user_id(self, user_id: str) -> str:
        """Check that a user ID is well formed and ours (M_INVALID_PARAM otherwise)."""
        try:
            _, server = ids.parse_user_id(user_id)
        except ValueError:
            raise InvalidParam(f"{user_id!r} is not a user ID") from None
        if server != self.server_name:
            raise InvalidParam("Can only look up local users")
        return user_id

    async def _existing(self, user_id: str) -> UserRow:
        row = await self.store.get_user(self.local_user_id(user_id))
        if row is None:
            raise NotFound("User not found")
        return row

    # -- listing and lookup -----------------------------------------------------------------

    async def list_users(self, *, offset: int = 0, limit: int = DEFAULT_LIMIT, name: str | None = None,
                         user_id: str | None = None, guests: bool = True, admins: bool | None = None,
                         deactivated: bool | None = False, order_by: str = "name",
                         backwards: bool = False) -> UserPage:
        """`deactivated`: False hides deactivated users (v2's default), None shows both, True only them."""
        if offset < 0 or limit < 0:
            raise InvalidParam("from and limit must not be negative")
        if order_by not in USER_ORDER:
            raise InvalidParam(f"Unknown order_by {order_by!r}")
        rows, total = await self.store.list_users(
            offset=offset, limit=limit, user_id=user_id, name=name, guests=guests, admins=admins,
            deactivated=deactivated, order_by=order_by, backwards=backwards)
        more = offset + len(rows) < total
        return UserPage([AdminUser.from_row(r) for r in rows], total,
                        str(offset + len(rows)) if more and rows else None)

    async def get_user(self, user_id: str) -> AdminUser:
        return AdminUser.from_row(await self._existing(user_id))

    # -- create or change -------------------------------------------------------------------

    async def upsert_user(self, user_id: str, changes: UserChanges) -> tuple[AdminUser, bool]:
        """Create the user or apply the changes; returns the user and whether it was created."""
        user_id = self.local_user_id(user_id)
        if changes.password is not None and (not changes.password or len(changes.password) > MAX_PASSWORD_LENGTH):
            raise InvalidParam("Invalid password")
        existing = await self.accounts.get_user(user_id)
        created = existing is None
        if created:
            localpart = ids.parse_user_id(user_id)[0]
            if not ids.is_valid_user_localpart(localpart):
                raise InvalidParam("User names may only contain a-z, 0-9, and . _ = - / +")
            password_hash = await self.auth.hash_password(changes.password) if changes.password else None
            try:
                await self.accounts.create_user(user_id, password_hash, admin=bool(changes.admin),
                                                displayname=localpart)
            except sqlite3.IntegrityError:
                raise UserInUse("User ID already taken.") from None
            if changes.displayname:
                await self.profiles.set_member_profile_field(user_id, "displayname", changes.displayname)
            if changes.avatar_url:
                await self.profiles.set_member_profile_field(user_id, "avatar_url", changes.avatar_url)
            if changes.deactivated:
                await self.deactivation.deactivate_user(user_id, erase=False)
            return await self.get_user(user_id), True

        if changes.deactivated is False and existing.deactivated:
            if changes.password is None:
                raise MissingParam("Must provide a password to re-activate an account.")
            await self.store.reactivate(user_id, await self.auth.hash_password(changes.password))
        elif changes.password is not None and not (changes.deactivated or existing.deactivated):
            await self.set_password(user_id, changes.password, logout_devices=changes.logout_devices)
        if changes.displayname is not None:
            await self.profiles.set_member_profile_field(user_id, "displayname", changes.displayname)
        if changes.avatar_url is not None:
            await self.profiles.set_member_profile_field(user_id, "avatar_url", changes.avatar_url)
        if changes.admin is not None and changes.admin != existing.admin:
            await self.accounts.set_admin(user_id, changes.admin)
            self.auth.forget_user(user_id)
        if changes.deactivated and not existing.deactivated:
            await self.deactivation.deactivate_user(user_id, erase=False)
        return await self.get_user(user_id), False

    async def set_password(self, user_id: str, new_password: str, *, logout_devices: bool = True) -> None:
        """Reset a password (admin API or pages): every web session of the account ends, and every
        device is signed out unless told not to."""
        row = await self._existing(user_id)
        if row.deactivated:
            raise InvalidParam("The user is deactivated")
        if not new_password or len(new_password) > MAX_PASSWORD_LENGTH:
            raise InvalidParam("Invalid password")
        # Web sessions end whatever logout_devices says; devices: all of them (no current device).
        await self.login.set_password(user_id, new_password, logout_devices=logout_devices)

    async def deactivate(self, user_id: str, *, erase: bool = False) -> None:
        row = await self._existing(user_id)
        if not row.deactivated:
            await self.deactivation.deactivate_user(user_id, erase)
        if erase:
            await self.accounts.delete_profile_fields(user_id)
            await self.store.mark_erased(user_id)

    # -- admin flag -------------------------------------------------------------------------

    async def is_admin(self, user_id: str) -> bool:
        return (await self._existing(user_id)).admin

    async def set_admin(self, user_id: str, admin: bool, *, by: str) -> None:
        await self._existing(user_id)
        if user_id == by and not admin:
            raise InvalidParam("You may not demote yourself.")
        await self.accounts.set_admin(user_id, admin)
        self.auth.forget_user(user_id)

    # -- sessions and devices ---------------------------------------------------------------

    async def whois(self, user_id: str) -> Whois:
        await self._existing(user_id)
        devices: dict[str, list[dict[str, Any]]] = {}
        for device in await self.accounts.list_devices(user_id):
            devices[device.device_id] = []
        for c in await self.store.connections(user_id):
            devices.setdefault(c.device_id, []).append(
                {"ip": c.ip, "last_seen": c.last_seen, "user_agent": c.user_agent})
        return Whois(user_id, devices)

    async def list_devices(self, user_id: str) -> list[AdminDevice]:
        await self._existing(user_id)
        agents = await self.store.device_user_agents(user_id)
        return [_admin_device(d, agents.get(d.device_id)) for d in await self.accounts.list_devices(user_id)]

    async def get_device(self, user_id: str, device_id: str) -> AdminDevice:
        await self._existing(user_id)
        device = await self.accounts.get_device(user_id, device_id)
        if device is None:
            raise NotFound("Device not found")
        return _admin_device(device, (await self.store.device_user_agents(user_id)).get(device_id))

    async def delete_devices(self, user_id: str, device_ids: list[str]) -> None:
        """Sign these devices out and forget them (unknown IDs are ignored)."""
        await self._existing(user_id)
        await self.devices.delete_user_devices(user_id, device_ids)

    async def joined_rooms(self, user_id: str) -> list[str]:
        await self._existing(user_id)
        return await self.accounts.room_ids_with_membership(user_id, ("join",))


def _admin_device(d: Device, user_agent: str | None) -> AdminDevice:
    return AdminDevice(d.user_id, d.device_id, d.display_name, d.last_seen_ip, d.last_seen_ts, user_agent)
