"""Setup state: "pending" until the wizard completes, or until an operator made an admin.

A fresh data directory gets a one-time setup code at first start (from `secrets`, never shipped
in an image): stored in the database, written to `setup-code.txt` (0600) in the data directory
and printed on the console. Whoever types it in the wizard may claim the server. It is compared
in constant time and rate-limited per address.

Headless use: an operator who creates an admin with `hearth create-user --admin` needs no
wizard; setup counts as complete from the moment an active admin exists, and that is recorded
so the wizard never comes back (not even if that admin is later deactivated).
"""
from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..protocol.errors import UserInUse
from ..storage.stores.accounts import AccountStore
from ..storage.stores.server_settings import ServerSettingsStore
from .login_throttle import LoginThrottle
from .ratelimit import RateLimiter

log = logging.getLogger(__name__)

COMPLETED = "setup.completed"      # "wizard" | "headless"
CODE = "setup.code"
PROGRESS = "setup.progress"        # JSON: {"step": id, "data": {step id: values}}
APPLYING = "setup.applying"        # set while the wizard applies: setup stays pending until done

# No 0/O, 1/I/L: the code is read off a console and typed on a phone.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_FILE = "setup-code.txt"


def new_setup_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return "-".join(raw[i:i + 4] for i in range(0, 12, 4))


def normalise_code(text: str) -> str:
    return "".join(c for c in text.upper() if c.isalnum())


class SetupService:
    CODE_TRIES = 5                  # per address ...
    CODE_WINDOW_S = 60.0            # ... per minute
    # From all addresses together (many addresses are easy to have on a LAN): 10 quick tries, then
    # one every few seconds (settings.login_failures_per_second); 20 wrong codes lock the wizard's
    # code for settings.login_lockout_minutes.
    CODE_BURST = 10
    CODE_LOCK_AFTER = 20

    def __init__(self, settings, store: ServerSettingsStore, accounts: AccountStore):
        self.settings = settings
        self.store = store
        self.accounts = accounts
        self.code_limiter = RateLimiter(self.CODE_TRIES / self.CODE_WINDOW_S, self.CODE_TRIES)
        self.code_throttle = LoginThrottle(settings.login_failures_per_second, self.CODE_BURST,
                                           self.CODE_LOCK_AFTER, settings.login_lockout_minutes * 60)
        self.setup_code: str | None = None  # set at start while setup is not complete

    @property
    def code_path(self) -> Path:
        return Path(self.settings.data_dir) / CODE_FILE

    def load_job(self, conn: sqlite3.Connection) -> None:
        """At start-up: make the setup code once (first start) and (re)write its file."""
        if ServerSettingsStore.has_job(conn, COMPLETED):
            self.setup_code = None
            return
        self.setup_code = ServerSettingsStore.set_if_absent_job(conn, CODE, new_setup_code())
        self._write_code_file(self.setup_code)

    def _write_code_file(self, code: str) -> None:
        path = self.code_path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(code + "\n")
        os.chmod(path, 0o600)  # an older file may have had other bits

    # -- state ------------------------------------------------------------------------------

    async def completed(self) -> str | None:
        return await self.store.get(COMPLETED)

    async def pending(self) -> bool:
        """Read from the database every time: the wizard must never outlive its completion."""
        if await self.store.get(COMPLETED) is not None:
            return False
        if await self.store.get(APPLYING) is not None:
            return True  # the wizard made the admin but has not finished: let it resume
        if any(u.admin and not u.deactivated for u in await self.accounts.list_users()):
            await self.complete("headless")
            return False
        return True

    async def registration_allowed(self) -> bool:
        """The Matrix API registers nobody before setup, unless the operator chose a policy."""
        return "registration" in self.settings.explicit_fields or not await self.pending()

    def check_code(self, ip: str, code: str) -> bool:
        """Constant-time comparison, at most CODE_TRIES per address per minute and a throttle over
        all addresses (LimitExceeded)."""
        self.code_limiter.check(f"setup-code:{ip}")
        self.code_throttle.attempt("setup-code")
        expected = self.setup_code
        ok = bool(expected) and hmac.compare_digest(normalise_code(code).encode(),
                                                    normalise_code(expected or "").encode())
        if ok:
            self.code_throttle.succeeded("setup-code")
        else:
            self.code_throttle.failed("setup-code")
        return ok

    # -- wizard progress --------------------------------------------------------------------

    async def progress(self) -> dict[str, Any]:
        raw = await self.store.get(PROGRESS)
        progress = json.loads(raw) if raw else {}
        progress.setdefault("step", None)
        progress.setdefault("data", {})
        return progress

    async def save_progress(self, progress: dict[str, Any]) -> None:
        await self.store.set_many({PROGRESS: json.dumps(progress)})

    async def install_admin(self, user_id: str, password_hash: str,
                            check_available: Callable[[], Awaitable[object]]) -> None:
        """The wizard's admin: created, or found where an interrupted apply made it; never another.

        While setup is pending, an operator's registration policy may let anyone register: the
        name chosen in the wizard may have been taken meanwhile. The wizard's own account is
        created in one write with the password hash kept in the progress (which nobody else
        has), so an account with another hash is someone else's: UserInUse. `check_available()`
        raises UserInUse when the name cannot be registered.
        """
        localpart = user_id[1:].split(":", 1)[0]
        existing = await self.accounts.get_user(user_id)
        if existing is None:
            try:
                await check_available()
                await self.accounts.create_user(user_id, password_hash, admin=True, displayname=localpart)
            except sqlite3.IntegrityError:
                raise UserInUse("User ID already taken.") from None
            return
        if existing.password_hash != password_hash:
            log.warning("setup: %s exists and is not the wizard's; not made admin", user_id)
            raise UserInUse("User ID already taken.")
        await self.accounts.set_admin(user_id, True)

    async def start_applying(self) -> None:
        await self.store.set_many({APPLYING: "1"})

    async def complete(self, how: str) -> None:
        """Setup is over for good: the code, the progress (with a password hash) are deleted."""
        def job(conn: sqlite3.Connection) -> None:
            ServerSettingsStore.set_many_job(conn, {COMPLETED: how})
            # From now on the name is fixed (the wizard fixed it already; headless: the current one).
            ServerSettingsStore.set_if_absent_job(conn, "server_name", json.dumps(self.settings.server_name))
            ServerSettingsStore.delete_job(conn, CODE, PROGRESS, APPLYING)
        await self.store.db.write(job)
        self.setup_code = None
        try:
            self.code_path.unlink()
        except FileNotFoundError:
            pass
        log.info("setup complete (%s)", how)
