"""Passwords, access and refresh tokens, and who is calling.

Tokens are random, handed out once and stored only as their SHA-256. Resolved tokens are
kept in a small in-memory cache because every request needs one; logout clears it.
"""
from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
import nacl.pwhash

from ..protocol.errors import (
    ExclusiveForbidden, Forbidden, MissingParam, UnknownDevice, UnknownToken, UserDeactivated,
)
from ..storage.stores.accounts import AccountStore, now_ms
from .appservices.registry import AppServiceRegistry


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Who is on the other end of a request: for device last-seen and rate limits."""

    ip: str
    user_agent: str


@dataclass(frozen=True, slots=True)
class Requester:
    user_id: str
    device_id: str | None     # None only for an appservice acting without asserting a device
    token_hash: str
    is_guest: bool = False
    admin: bool = False
    locked: bool = False      # every request but logout answers 401 M_USER_LOCKED (routing)
    suspended: bool = False   # the actions the spec lists answer 403 M_USER_SUSPENDED
    appservice_id: str | None = None  # the appservice whose as_token made this request
    rate_limited: bool = True  # an appservice's registration may turn rate limits off


def require_device(me: Requester) -> str:
    """The requester's device, for what needs one (key uploads, pushers): an appservice acting
    without asserting a device gets 400 rather than a half-done operation."""
    if me.device_id is None:
        raise MissingParam("This needs a device: an appservice names one with the device_id query parameter")
    return me.device_id


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def new_device_id() -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(10))


# Argon2id with libsodium's "interactive" limits: about 0.1 s and 64 MiB on a Pi 4.
_OPS = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
_MEM = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
# Each hash or check holds 64 MiB while it runs, and the default thread pool would run up to
# six at once (384 MiB: most of a 512 MB Pi) when a household's devices all log in after an
# outage, or someone hammers the login. Two at a time; the rest wait their turn.
MAX_CONCURRENT_HASHES = 2


def _hash_password_sync(password: str) -> str:
    return nacl.pwhash.argon2id.str(password.encode(), opslimit=_OPS, memlimit=_MEM).decode()


def _check_password_sync(password: str, stored: str) -> bool:
    try:
        return nacl.pwhash.verify(stored.encode(), password.encode())
    except (nacl.exceptions.InvalidkeyError, nacl.exceptions.CryptoError, ValueError):
        return False


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    device_id: str
    refresh_token: str | None
    expires_in_ms: int | None


class AuthService:
    CACHE_SIZE = 4096
    CACHE_SECONDS = 10.0  # how stale a cached token may be when revoked by another process
    DEVICE_TOUCH_INTERVAL_MS = 60_000

    def __init__(self, accounts: AccountStore, refresh_lifetime_ms: int, appservices: AppServiceRegistry):
        self.accounts = accounts
        self.appservices = appservices
        self.refresh_lifetime_ms = refresh_lifetime_ms
        # token hash -> (requester, token expiry, when this entry must be re-read)
        self._cache: OrderedDict[str, tuple[Requester, int | None, float]] = OrderedDict()
        self._last_touch: dict[tuple[str, str], int] = {}
        self._hashing = asyncio.Semaphore(MAX_CONCURRENT_HASHES)

    async def _argon2(self, fn: Any, *args: str) -> Any:
        async with self._hashing:
            return await asyncio.to_thread(fn, *args)

    async def hash_password(self, password: str) -> str:
        return await self._argon2(_hash_password_sync, password)

    async def check_password(self, user_id: str, password: str) -> bool:
        user = await self.accounts.get_user(user_id)
        if user is None or user.password_hash is None:
            # Spend the same time as a real check so that timing does not reveal accounts.
            await self._argon2(_check_dummy_sync, password)
            return False
        return await self._argon2(_check_password_sync, password, user.password_hash)

    async def issue_tokens(self, user_id: str, device_id: str | None, *, refresh: bool = False) -> IssuedTokens:
        device_id = device_id or new_device_id()
        access = new_token("hth")
        refresh_token = new_token("hthr") if refresh else None
        expires_ts = now_ms() + self.refresh_lifetime_ms if refresh else None
        await self.accounts.add_access_token(
            hash_token(access), user_id, device_id, expires_ts,
            hash_token(refresh_token) if refresh_token else None)
        return IssuedTokens(access, device_id, refresh_token, self.refresh_lifetime_ms if refresh else None)

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        access = new_token("hth")
        new_refresh = new_token("hthr")
        expires_ts = now_ms() + self.refresh_lifetime_ms
        old_hash = hash_token(refresh_token)
        # Using a refresh token that was itself issued by a rotation confirms that rotation.
        await self.accounts.confirm_refresh_successor(old_hash)
        pair = await self.accounts.rotate_refresh_token(old_hash, hash_token(access), hash_token(new_refresh), expires_ts)
        if pair is None:
            raise UnknownToken("Unknown refresh token", soft_logout=False)
        # The access token issued with the old refresh token has stopped working.
        self._forget_where(lambda r: (r.user_id, r.device_id) == pair)
        return IssuedTokens(access, pair[1], new_refresh, self.refresh_lifetime_ms)

    async def get_requester(self, token: str, client: ClientInfo | None = None, *, user_id: str | None = None,
                            device_id: str | None = None) -> Requester:
        """Who a token belongs to. An appservice's `as_token` acts as its bot, or as the user and
        device it asserts (`user_id`, `device_id` query parameters; ignored for other tokens)."""
        appservice = self.appservices.by_token(token)
        if appservice is not None:
            return await self._appservice_requester(appservice, user_id, device_id)
        token_hash = hash_token(token)
        cached = self._cache.get(token_hash)
        if cached is not None and cached[2] < time.monotonic():
            cached = None  # re-read: an operator command in another process may have revoked it
        if cached is not None:
            requester, expires_ts, _ = cached
            self._cache.move_to_end(token_hash)
        else:
            info = await self.accounts.get_access_token(token_hash)
            if info is None:
                raise UnknownToken("Unknown access token", soft_logout=False)
            user = await self.accounts.get_user(info.user_id)
            if user is None or user.deactivated:
                raise UserDeactivated("This account has been deactivated") if user else UnknownToken(
                    "Unknown access token", soft_logout=False)
            requester = Requester(info.user_id, info.device_id, token_hash, user.is_guest, user.admin,
                                  user.locked, user.suspended)
            refresh_hash = await self.accounts.access_token_refresh_hash(token_hash)
            if refresh_hash is not None and await self.accounts.refresh_token_replaces(refresh_hash):
                # First use of a refreshed access token: the refresh token it replaced is revoked.
                await self.accounts.confirm_refresh_successor(refresh_hash)
            expires_ts = info.expires_ts
            self._cache[token_hash] = (requester, expires_ts, time.monotonic() + self.CACHE_SECONDS)
            if len(self._cache) > self.CACHE_SIZE:
                self._cache.popitem(last=False)
        if expires_ts is not None and expires_ts < now_ms():
            raise UnknownToken("Access token has expired", soft_logout=True)
        if client is not None:
            await self._touch_device(requester, client)
        return requester

    async def _appservice_requester(self, appservice, user_id: str | None, device_id: str | None) -> Requester:
        server_name = self.appservices.server_name
        sender = appservice.sender(server_name)
        user_id = user_id or sender
        if not appservice.is_user(user_id, server_name):
            raise ExclusiveForbidden(f"The appservice {appservice.id!r} cannot act as {user_id}: "
                                     "it is outside its namespaces")
        user = await self.accounts.get_user(user_id)
        if user is None:
            raise Forbidden(f"The appservice has not registered {user_id}")
        if user.deactivated:
            raise UserDeactivated("This account has been deactivated")
        if device_id is not None and await self.accounts.get_device(user_id, device_id) is None:
            raise UnknownDevice(f"{user_id} has no device {device_id}")
        return Requester(user_id, device_id, f"appservice:{appservice.id}", False, user.admin, user.locked,
                         user.suspended, appservice_id=appservice.id,
                         rate_limited=appservice.rate_limited and user_id != sender)

    async def _touch_device(self, requester: Requester, client: ClientInfo) -> None:
        key = (requester.user_id, requester.device_id)
        ts = int(time.time() * 1000)
        if ts - self._last_touch.get(key, 0) < self.DEVICE_TOUCH_INTERVAL_MS:
            return
        self._last_touch[key] = ts
        await self.accounts.touch_device(requester.user_id, requester.device_id, client.ip, ts,
                                         user_agent=client.user_agent)

    def forget_user(self, user_id: str) -> None:
        """Drop cached tokens of a user (after logout/all, deactivation, admin change)."""
        self._forget_where(lambda r: r.user_id == user_id)

    def forget_token(self, token_hash: str) -> None:
        self._cache.pop(token_hash, None)

    def _forget_where(self, pred) -> None:
        for h in [h for h, (r, _, _) in self._cache.items() if pred(r)]:
            del self._cache[h]


_dummy_hash: list[str] = []  # made on the first failed lookup, not at import (argon2id: ~60 ms)


def _check_dummy_sync(password: str) -> bool:
    if not _dummy_hash:
        _dummy_hash.append(_hash_password_sync(secrets.token_hex(8)))
    return _check_password_sync(password, _dummy_hash[0])
