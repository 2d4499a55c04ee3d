"""Synapse's shared-secret registration (`/_synapse/admin/v1/register`), for provisioning tools
and test suites that create accounts (admins included) without a person at a client.

    GET  → {"nonce": n}          a random nonce, usable once, for NONCE_TTL_S seconds
    POST {nonce, username, password, admin?, displayname?, user_type?, mac}
         → {access_token, user_id, home_server, device_id}

`mac` is the hex HMAC-SHA1, keyed with the shared secret, of
`nonce \\0 username \\0 password \\0 ("admin" | "notadmin")`, followed by `\\0 user_type` when a
user_type is given (Synapse's admin API documentation, "Shared-Secret Registration").

Whoever holds the secret can make admins, so: the secret is random, generated at the first
start into a 0600 file in the data directory (never a default; `hearth registration-secret
show` prints it), and the API is off unless the admin turns it on (the stored setting
`registration_shared_secret_enabled`, the admin settings page, or the HEARTH_ variable).
While it is off both methods answer as Synapse does without a secret: 400 "not enabled".
A nonce is consumed by the first POST that names it, whether or not its MAC is right.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..protocol.errors import Forbidden, InvalidParam, MatrixError
from ..storage.stores.accounts import AccountStore
from .accounts.registration import Registration
from .auth import AuthService, ClientInfo

NONCE_TTL_S = 60.0    # Synapse's lifetime of a nonce
MAX_NONCES = 1000     # outstanding at once; the oldest go first (bounded memory)


def load_or_create_secret(path: Path) -> str:
    """The shared secret from `path`, made (random, mode 0600) when the file does not exist."""
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return secret


def registration_mac(secret: str, nonce: str, username: str, password: str, admin: bool,
                     user_type: str | None = None) -> str:
    parts = [nonce, username, password, "admin" if admin else "notadmin"]
    if user_type is not None:
        parts.append(user_type)
    return hmac.new(secret.encode(), "\0".join(parts).encode(), hashlib.sha1).hexdigest()


@dataclass(frozen=True, slots=True)
class SharedSecretRequest:
    nonce: str
    username: str
    password: str
    mac: str
    admin: bool = False
    displayname: str | None = None
    user_type: str | None = None


class SharedSecretRegistration:
    def __init__(self, secret: str, enabled: Callable[[], bool], registration: Registration,
                 accounts: AccountStore, auth: AuthService, server_name: str,
                 clock: Callable[[], float] = time.monotonic):
        self._secret = secret
        self._enabled = enabled
        self.registration = registration
        self.accounts = accounts
        self.auth = auth
        self.server_name = server_name
        self._clock = clock
        self._nonces: OrderedDict[str, float] = OrderedDict()  # nonce -> when it expires

    def _check_enabled(self) -> None:
        if not self._enabled():
            raise MatrixError("Shared secret registration is not enabled")

    def new_nonce(self) -> str:
        self._check_enabled()
        self._drop_expired()
        nonce = secrets.token_hex(32)
        self._nonces[nonce] = self._clock() + NONCE_TTL_S
        while len(self._nonces) > MAX_NONCES:
            self._nonces.popitem(last=False)
        return nonce

    def _drop_expired(self) -> None:
        now = self._clock()
        while self._nonces and next(iter(self._nonces.values())) <= now:
            self._nonces.popitem(last=False)

    async def register(self, req: SharedSecretRequest, client: ClientInfo) -> dict:
        self._check_enabled()
        self._drop_expired()
        if self._nonces.pop(req.nonce, None) is None:  # single use, right or wrong
            raise MatrixError("unrecognised nonce")
        expected = registration_mac(self._secret, req.nonce, req.username, req.password, req.admin, req.user_type)
        if not hmac.compare_digest(expected, req.mac.lower()):
            raise Forbidden("HMAC incorrect")
        if req.user_type is not None:
            raise InvalidParam("Invalid user type")  # Hearth has no support/bot user types
        # create_user checks the name (M_INVALID_USERNAME, M_USER_IN_USE) and the password.
        user_id = await self.registration.create_user(req.username, req.password, admin=req.admin)
        if req.displayname:
            await self.accounts.set_profile_field(user_id, "displayname", req.displayname)
        # A new device as any sign-in makes one (Login.sign_in: the device-added listeners hear of it).
        issued = await self.registration.login.sign_in(user_id, None, None, False, client)
        return {"access_token": issued.access_token, "user_id": user_id, "home_server": self.server_name,
                "device_id": issued.device_id}
