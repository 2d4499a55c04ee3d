"""Other servers' verify keys: from the store while valid, else fetched from the server itself
(`GET /_matrix/key/v2/server`), checked (protocol/server_key_responses) and stored; old keys
are kept and still verify what they signed while valid ("Validity of keys")."""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from ...protocol.server_key_responses import parse_server_keys
from ...protocol.signing import SignatureError, SigningKey
from ...storage.stores.remote_server_keys import RemoteServerKeyStore

KeyFetcher = Callable[[str], Awaitable[Any]]  # server name -> its /_matrix/key/v2/server body


class KeyUnavailable(SignatureError):
    """No key with that ID valid at the time asked for could be had."""


class KeyRing:
    def __init__(self, store: RemoteServerKeyStore, fetch: KeyFetcher, our_name: str, our_key: SigningKey,
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._fetch = fetch
        self._our_name = our_name
        self._our_key = our_key
        self._clock = clock

    async def verify_key(self, server_name: str, key_id: str, valid_at_ts: int | None = None) -> bytes:
        """The public key `key_id` of `server_name`, valid at `valid_at_ts` (default: now)."""
        now = int(self._clock() * 1000)
        at = now if valid_at_ts is None else valid_at_ts
        if server_name == self._our_name:
            if key_id != self._our_key.key_id:
                raise KeyUnavailable(f"we have no key {key_id}")
            return self._our_key.verify_key_bytes
        cached = await self._store.get(server_name, key_id)
        if cached is not None and cached.valid_at(at):
            return cached.key
        try:
            response = await self._fetch(server_name)
            keys = parse_server_keys(response, server_name)
        except SignatureError as e:
            raise KeyUnavailable(f"cannot get {server_name}'s keys: {e}") from None
        except Exception as e:  # unreachable, timed out, refused: the caller answers a spec error
            raise KeyUnavailable(f"cannot get {server_name}'s keys: {e}") from None
        await self._store.put(keys, now)
        stored = await self._store.get(server_name, key_id)
        if stored is None or not stored.valid_at(at):
            raise KeyUnavailable(f"{server_name} has no key {key_id} valid at {at}")
        return stored.key
