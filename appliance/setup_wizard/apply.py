"""Apply the wizard's choices: fix the server name, create the admin, store the settings, make
the first invite, and close setup for good.

Each part is idempotent and the "applying" mark keeps setup pending until the end, so an
interrupted apply (a power cut) is finished by submitting the summary again.
"""
from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from quart import Quart

from ..core.protocol.errors import UserInUse


log = logging.getLogger(__name__)

FIRST_INVITE_USES = 10
FIRST_INVITE_DAYS = 14


@dataclass
class Applied:
    server_name: str
    user_id: str
    registration: str
    invite_token: str | None
    invite_expires_ms: int | None
    tasks: list[str]


async def _rebuild_hearth(app: Quart):
    """The server name is in every service: build them again under the new name.

    The old Hearth idles (nothing routes to it) and is closed when the server stops; its
    background tasks belong to the app's lifespan. The new one's background tasks are ours.
    """
    from ..hearth import build_hearth

    old = app.config["HEARTH"]
    new = await build_hearth(old.settings)
    app.config["HEARTH"] = new
    app.config.setdefault("SETUP_RETIRED_HEARTHS", []).append(old)
    tasks = app.config.setdefault("SETUP_BACKGROUND_TASKS", [])
    tasks += [asyncio.create_task(run(), name=getattr(run, "__qualname__", "background"))
              for run in getattr(new, "background", [])]
    if getattr(old, "backups", None) is not None:  # scheduled backups move to the new services
        await old.backups.stop()
        new.backups.start()
    log.info("services rebuilt for the server name %s", new.settings.server_name)
    return new


def name_taken(user_id: str) -> UserInUse:
    return UserInUse(f"The name {user_id} is already taken by an account on this server. "
                     "Go back to \"Your account\" and choose another user name.")


async def _make_admin(hearth, admin: dict[str, Any]) -> str:
    """Create the admin's account, or find the one an interrupted apply made; never adopt another.

    While setup is pending, an operator's registration policy may let anyone register: the name
    chosen in the wizard may have been taken meanwhile. The wizard's own account is created in
    one write with the password hash kept in the progress (which nobody else has), so an account
    with another hash is someone else's.
    """
    user_id = hearth.registration.user_id_for(admin["username"])
    existing = await hearth.accounts.get_user(user_id)
    if existing is None:
        try:
            await hearth.registration.check_username_available(admin["username"])
            await hearth.accounts.create_user(user_id, admin["password_hash"], admin=True,
                                              displayname=admin["username"])
        except (UserInUse, sqlite3.IntegrityError):
            raise name_taken(user_id) from None
        return user_id
    if existing.password_hash != admin["password_hash"]:
        log.warning("setup: %s exists and is not the wizard's; not made admin", user_id)
        raise name_taken(user_id)
    await hearth.accounts.set_admin(user_id, True)
    return user_id


async def apply_setup(app: Quart, progress: dict[str, Any]) -> Applied:
    hearth = app.config["HEARTH"]
    data = progress["data"]
    tasks = []
    await hearth.setup.start_applying()

    name = data["server_name"]["server_name"]
    if await hearth.server_settings.fix_server_name(name):
        hearth = await _rebuild_hearth(app)
    tasks.append(f"Server name set to {name}")

    user_id = await _make_admin(hearth, data["admin"])
    tasks.append(f"Account {user_id} created")

    registration = data["join"]["registration"]
    values: dict[str, Any] = {"registration": registration, **data["features"]["settings"]}
    address = data["join"].get("public_baseurl")
    if address and not hearth.server_settings.overridden("public_baseurl"):
        values["public_baseurl"] = address  # confirmed in the wizard; the admin pages can correct it
    for bridge_id, bridge in data.get("bridges", {}).get("bridges", {}).items():
        values[("bridge_" + re.sub(r"[^a-z0-9_]", "_", bridge_id.lower()))[:64]] = bridge
    await hearth.server_settings.store_values(values)
    hearth.admin_settings.apply_live()  # and in force now (media and previews read them at each use)
    tasks.append("Settings saved")

    token = expires = None
    if registration == "token":
        token = progress.get("invite_token")
        expires = progress.get("invite_expires_ms")
        if token is None:
            expires = int((time.time() + FIRST_INVITE_DAYS * 86400) * 1000)
            token = (await hearth.registration_tokens.create_invite(
                uses_allowed=FIRST_INVITE_USES, expiry_time=expires)).token
            progress.update(invite_token=token, invite_expires_ms=expires)
            await hearth.setup.save_progress(progress)
        tasks.append("First invite code made")

    await hearth.setup.complete("wizard")
    tasks.append("Setup closed: this wizard cannot be run again")
    advertiser = app.config.get("LAN_ADVERTISER")
    if advertiser is not None:
        try:
            await advertiser.update(setup_pending=False)
        except Exception:  # discovery is a convenience; setup is done either way
            log.exception("LAN discovery could not be updated")
    return Applied(name, user_id, registration, token, expires, tasks)

