"""Apply the wizard's choices: fix the server name, create the admin, store the settings, make
the first invite, and close setup for good.

Each part is idempotent and the "applying" mark keeps setup pending until the end, so an
interrupted apply (a power cut) is finished by submitting the summary again.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from ..core.protocol.errors import UserInUse
from ..hearth import Hearth


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
    restarting: bool = False  # the process restarts under the new name (the done page waits for it)


def name_taken(user_id: str) -> UserInUse:
    return UserInUse(f"The name {user_id} is already taken by an account on this server. "
                     "Go back to \"Your account\" and choose another user name.")


async def apply_setup(hearth: Hearth, progress: dict[str, Any]) -> Applied:
    """Ends with a restart when the server name changed: the name is in every service, and a
    start reads it from the stored settings (`ServerControl.restart`: the process under `hearth
    run`, once this answer has gone out; in an app without it, the services, before this returns)."""
    data = progress["data"]
    tasks = []
    await hearth.web.setup.start_applying()

    name = data["server_name"]["server_name"]
    renamed = await hearth.web.server_settings.fix_server_name(name)  # the settings have the new name now
    tasks.append(f"Server name set to {name}")

    admin = data["admin"]
    # Under the new name: the running services keep the old one until the restart below.
    user_id = f"@{admin['username']}:{name}"  # a checked localpart (setup_wizard/steps.py AdminStep)
    try:
        await hearth.web.setup.install_admin(
            user_id, admin["password_hash"], lambda: hearth.accounts.registration.check_username_available(admin["username"]))
    except UserInUse:
        raise name_taken(user_id) from None
    tasks.append(f"Account {user_id} created")

    registration = data["join"]["registration"]
    values: dict[str, Any] = {"registration": registration, **data["features"]["settings"]}
    address = data["join"].get("public_baseurl")
    if address and not hearth.web.server_settings.overridden("public_baseurl"):
        values["public_baseurl"] = address  # confirmed in the wizard; the admin pages can correct it
    reach = data.get("reach", {})
    for key, value in reach.get("settings", {}).items():
        if not hearth.web.server_settings.overridden(key):
            values[key] = value
    for bridge_id, bridge in data.get("bridges", {}).get("bridges", {}).items():
        values[("bridge_" + re.sub(r"[^a-z0-9_]", "_", bridge_id.lower()))[:64]] = bridge
    await hearth.web.server_settings.store_values(values)
    hearth.admin.settings.apply_live()  # and in force now (media and previews read them at each use)
    if reach.get("dns_token"):
        await hearth.reach.certificates.store_dns_token(reach["dns_token"])
    hearth.reach.certificates.kick()  # outside access: the certificate is fetched in the background
    tasks.append("Settings saved")

    token = expires = None
    if registration == "token":
        token = progress.get("invite_token")
        expires = progress.get("invite_expires_ms")
        if token is None:
            expires = int((time.time() + FIRST_INVITE_DAYS * 86400) * 1000)
            token = (await hearth.admin.registration_tokens.create_invite(
                uses_allowed=FIRST_INVITE_USES, expiry_time=expires)).token
            progress.update(invite_token=token, invite_expires_ms=expires)
            await hearth.web.setup.save_progress(progress)
        tasks.append("First invite code made")

    await hearth.web.setup.complete("wizard")
    tasks.append("Setup closed: this wizard cannot be run again")
    try:
        await hearth.web.process.control.setup_completed()
    except Exception:  # discovery is a convenience; setup is done either way
        log.exception("LAN discovery could not be updated")
    control = hearth.web.process.control
    if renamed:
        log.info("server name set to %s: restarting", name)
        await control.restart()
    return Applied(name, user_id, registration, token, expires, tasks, restarting=renamed and control.restarts_process)

