"""Asking other servers about their users and aliases (server-server "Querying for information":
`query/profile`, `query/directory`), for our clients' `GET /profile/{userId}` and
`GET /directory/room/{roomAlias}` about other servers' users and aliases. A server that cannot
be reached, or answers nonsense, is a spec error for the client, never a 500."""
from __future__ import annotations

from typing import Any

from ...protocol import ids
from ...protocol.errors import InvalidParam, MatrixError, NotFound
from .client import FederationClient, FederationRefused, FederationUnavailable


class RemoteLookups:
    def __init__(self, client: FederationClient) -> None:
        self.client = client

    async def _query(self, server: str, path: str, query: dict[str, str]) -> tuple[int, Any]:
        try:
            return await self.client.request("GET", server, path, query=query)
        except FederationRefused as e:
            raise MatrixError(str(e), status=403, errcode="M_FORBIDDEN") from None
        except FederationUnavailable as e:
            raise MatrixError(f"{server} could not be reached: {e}", status=502, errcode="M_UNKNOWN") from None

    async def profile(self, user_id: str, field: str | None = None) -> dict[str, Any]:
        try:
            server = ids.server_name_of(user_id)
        except ValueError:
            raise InvalidParam("Not a user ID") from None
        query = {"user_id": user_id, **({"field": field} if field else {})}
        status, body = await self._query(server, "/_matrix/federation/v1/query/profile", query)
        if status == 404:
            raise NotFound("Profile not found" if field is None else "Profile field not found")
        if status != 200 or not isinstance(body, dict):
            raise MatrixError(f"{server} answered {status}", status=502, errcode="M_UNKNOWN")
        if field is not None:
            if field not in body:
                raise NotFound("Profile field not found")
            return {field: body[field]}
        return body

    async def alias(self, alias: str) -> tuple[str, list[str]]:
        if not ids.is_valid_room_alias(alias):
            raise InvalidParam("Room alias invalid")
        server = ids.server_name_of(alias)
        status, body = await self._query(server, "/_matrix/federation/v1/query/directory", {"room_alias": alias})
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("room_id"), str):
            raise NotFound(f"Room alias {alias} not found.")
        servers = [s for s in body.get("servers") or [] if isinstance(s, str)] or [server]
        return body["room_id"], servers
