"""End-to-end encryption keys across servers (client-server `/keys/query`, `/keys/claim` for
other servers' users; server-server "End-to-End Encryption"): our users' part is answered by
DeviceKeyService, each other server's by `user/keys/query` and `user/keys/claim` to it, one
request per server, side by side, each with its own timeout. A server that cannot be reached
is named in `failures`, as the spec says, and the rest of the answer stands.

An answer is taken only for the users that server owns (a server cannot speak for another's).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from ...protocol import ids
from ...protocol.errors import BadJson, InvalidParam
from ..device_keys import DeviceKeyService
from .client import FederationClient

log = logging.getLogger(__name__)

QUERY_FIELDS = ("device_keys", "master_keys", "self_signing_keys")
DEFAULT_TIMEOUT_S = 10.0


class FederatedKeys:
    def __init__(self, server_name: str, local: DeviceKeyService, client: FederationClient) -> None:
        self.server_name = server_name
        self.local = local
        self.client = client

    def _split(self, wanted: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        local: dict[str, Any] = {}
        remote: dict[str, dict[str, Any]] = {}
        for user_id, value in wanted.items():
            if not isinstance(user_id, str) or not ids.is_valid_user_id(user_id):
                raise InvalidParam(f"Invalid user ID {user_id!r}")
            server = ids.server_name_of(user_id)
            if server == self.server_name:
                local[user_id] = value
            else:
                remote.setdefault(server, {})[user_id] = value
        return local, remote

    @staticmethod
    def _timeout(timeout_ms: Any) -> float:
        if isinstance(timeout_ms, int) and not isinstance(timeout_ms, bool) and timeout_ms > 0:
            return min(timeout_ms / 1000, 30.0)
        return DEFAULT_TIMEOUT_S

    async def _ask(self, server: str, path: str, content: dict[str, Any], timeout: float) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            status, body = await self.client.request("POST", server, path, content=content)
        if status != 200 or not isinstance(body, dict):
            raise OSError(f"{server} answered {status}")
        return body

    async def query_keys(self, requester: str, device_keys: Any, timeout_ms: Any = None) -> dict[str, Any]:
        if not isinstance(device_keys, Mapping):
            raise BadJson("device_keys must be an object")
        local, remote = self._split(device_keys)
        for value in device_keys.values():
            if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
                raise BadJson("device_keys must map user IDs to lists of device IDs")
        result = await self.local.query_keys(requester, local)
        timeout = self._timeout(timeout_ms)

        async def one(server: str, users: dict[str, Any]) -> None:
            try:
                body = await self._ask(server, "/_matrix/federation/v1/user/keys/query", {"device_keys": users}, timeout)
            except Exception as e:  # unreachable, timed out, refused, a bad answer
                log.info("keys query to %s failed: %s", server, e)
                result["failures"][server] = {"status": 503, "message": f"{server} could not be reached"}
                return
            for field in QUERY_FIELDS:
                got = body.get(field)
                for user_id, keys in (got.items() if isinstance(got, dict) else ()):
                    if user_id in users and isinstance(keys, dict):
                        result[field][user_id] = keys

        await asyncio.gather(*(one(s, u) for s, u in remote.items()))
        return result

    async def claim_keys(self, one_time_keys: Any, timeout_ms: Any = None) -> dict[str, Any]:
        if not isinstance(one_time_keys, Mapping):
            raise BadJson("one_time_keys must be an object")
        local, remote = self._split(one_time_keys)
        for value in one_time_keys.values():
            if not isinstance(value, dict) or not all(isinstance(a, str) for a in value.values()):
                raise BadJson("one_time_keys must map user IDs to {device ID: algorithm}")
        result = await self.local.claim_keys(local)
        timeout = self._timeout(timeout_ms)

        async def one(server: str, users: dict[str, Any]) -> None:
            try:
                body = await self._ask(server, "/_matrix/federation/v1/user/keys/claim", {"one_time_keys": users},
                                       timeout)
            except Exception as e:
                log.info("keys claim to %s failed: %s", server, e)
                result["failures"][server] = {"status": 503, "message": f"{server} could not be reached"}
                return
            got = body.get("one_time_keys")
            for user_id, keys in (got.items() if isinstance(got, dict) else ()):
                if user_id in users and isinstance(keys, dict):
                    result["one_time_keys"][user_id] = keys

        await asyncio.gather(*(one(s, u) for s, u in remote.items()))
        return result
