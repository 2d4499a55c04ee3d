"""Web sessions for the pages (webui/session.py holds the cookie side): the rows, looked up by
the SHA-256 of the ID the cookie carries, and the key that signs the cookies, made once per
server and kept in the stored settings."""
from __future__ import annotations

import secrets

from ..storage.stores.server_settings import ServerSettingsStore
from ..storage.stores.web_sessions import WebSessionRow, WebSessionStore

SECRET_KEY = "webui.session_secret"


class WebSessionService:
    def __init__(self, store: WebSessionStore, settings_store: ServerSettingsStore):
        self.store = store
        self.settings_store = settings_store
        self._secret: bytes | None = None

    async def secret(self) -> bytes:
        """The cookies' signing key (made on first use, then read from memory)."""
        if self._secret is None:
            self._secret = bytes.fromhex(await self.settings_store.set_if_absent(SECRET_KEY, secrets.token_hex(32)))
        return self._secret

    async def get(self, session_hash: str) -> WebSessionRow | None:
        return await self.store.get(session_hash)

    async def create(self, session_hash: str, user_id: str | None, csrf_token: str, data: dict,
                     expires_ts: int) -> None:
        await self.store.create(session_hash, user_id, csrf_token, data, expires_ts)

    async def save_data(self, session_hash: str, data: dict, last_seen_ts: int) -> None:
        await self.store.update(session_hash, data=data, last_seen_ts=last_seen_ts)

    async def delete(self, session_hash: str) -> None:
        await self.store.delete(session_hash)

    async def delete_for_user(self, user_id: str) -> int:
        """Every web session of a user (password reset, deactivation); how many there were."""
        return await self.store.delete_for_user(user_id)
