"""API test helpers: `hs`, the in-process server with users made straight in its stores.

Users are created through AccountStore and AuthService (not /register), so that room tests
do not depend on the registration flow.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from appliance.hearth import Hearth


@dataclass
class TestUser:
    user_id: str
    token: str
    device_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Homeserver:
    __test__ = False
    PREFIX = "/_matrix/client/v3"

    def __init__(self, client, hearth: Hearth):
        self.client = client
        self.hearth = hearth
        self._txn = itertools.count(1)

    async def user(self, localpart: str, *, displayname: str | None = None, avatar_url: str | None = None,
                   device_id: str | None = None, is_guest: bool = False, admin: bool = False) -> TestUser:
        user_id = f"@{localpart}:{self.hearth.server_name}"
        if not await self.hearth.core.account_store.user_exists(user_id):
            await self.hearth.core.account_store.create_user(user_id, None, displayname=displayname, is_guest=is_guest,
                                                   admin=admin)
            if avatar_url is not None:
                await self.hearth.core.account_store.set_profile_field(user_id, "avatar_url", avatar_url)
        issued = await self.hearth.core.auth.issue_tokens(user_id, device_id)
        await self.hearth.core.account_store.upsert_device(user_id, issued.device_id, None, None)
        return TestUser(user_id, issued.access_token, issued.device_id)

    async def call(self, method: str, path: str, user: TestUser | None = None,
                   json: Any = None) -> tuple[int, dict]:
        kwargs: dict[str, Any] = {}
        if user is not None:
            kwargs["headers"] = user.headers
        if json is not None:
            kwargs["json"] = json
        r = await self.client.open(self.PREFIX + path, method=method, **kwargs)
        return r.status_code, await r.get_json()

    async def ok(self, method: str, path: str, user: TestUser | None = None, json: Any = None) -> dict:
        status, body = await self.call(method, path, user, json)
        assert status == 200, (status, body)
        return body

    async def error(self, method: str, path: str, user: TestUser | None, json: Any, errcode: str,
                    status: int | None = None) -> dict:
        got_status, body = await self.call(method, path, user, json)
        assert body.get("errcode") == errcode, (got_status, body)
        if status is not None:
            assert got_status == status, (got_status, body)
        return body

    async def create_room(self, user: TestUser, **body: Any) -> str:
        return (await self.ok("POST", "/createRoom", user, body))["room_id"]

    async def send(self, user: TestUser, room_id: str, content: dict | None = None,
                   event_type: str = "m.room.message") -> str:
        txn = f"t{next(self._txn)}"
        content = content if content is not None else {"msgtype": "m.text", "body": "hello"}
        body = await self.ok("PUT", f"/rooms/{room_id}/send/{event_type}/{txn}", user, content)
        return body["event_id"]

    async def state(self, room_id: str, event_type: str, state_key: str = ""):
        """The current state event (a Pdu), read from the store: GET /state is not ours."""
        return await self.hearth.core.event_store.current_state_event(room_id, event_type, state_key)

    async def membership(self, room_id: str, user: TestUser) -> str | None:
        return await self.hearth.core.event_store.membership(room_id, user.user_id)


@pytest.fixture
async def hs(client) -> Homeserver:
    return Homeserver(client, client.app.config["HEARTH"])


@pytest.fixture
async def boss(hs) -> TestUser:
    """A server admin."""
    return await hs.user("boss", admin=True)
