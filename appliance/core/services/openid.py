"""OpenID (modules/openid, openid.yaml; server-server "OpenID"): short-lived tokens that prove
to a third-party service which Matrix user holds them.

A token is good only for GET /_matrix/federation/v1/openid/userinfo, never as an access token:
it lives in its own table, stored as a SHA-256 hash, and expires after an hour.
"""
from __future__ import annotations

import secrets
import time
from typing import Any

from ..protocol.errors import UnknownToken
from ..storage.stores.openid import OpenIdTokenStore
from .auth import hash_token

EXPIRES_IN_S = 3600


def _now_ms() -> int:
    return int(time.time() * 1000)


class OpenIdService:
    def __init__(self, store: OpenIdTokenStore, server_name: str, expires_in_s: int = EXPIRES_IN_S):
        self.store = store
        self.server_name = server_name
        self.expires_in_s = expires_in_s

    async def request_token(self, user_id: str) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        now = _now_ms()
        await self.store.add(hash_token(token), user_id, now + self.expires_in_s * 1000, now)
        return {"access_token": token, "token_type": "Bearer", "matrix_server_name": self.server_name,
                "expires_in": self.expires_in_s}

    async def userinfo(self, token: str | None) -> dict[str, Any]:
        """The federation check: {"sub": user_id}, or M_UNKNOWN_TOKEN."""
        if not token:
            raise UnknownToken("Access token unknown or expired")
        row = await self.store.get(hash_token(token))
        if row is None or row[1] <= _now_ms():
            raise UnknownToken("Access token unknown or expired")
        return {"sub": row[0]}
