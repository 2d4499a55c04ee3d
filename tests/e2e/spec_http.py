"""A small raw-HTTP Matrix client for spec-conformance tests against a real Hearth process:
register, log in, call an endpoint and get its JSON, sync incrementally. Raw HTTP (not a client
library) so that a test sees exactly what the server sent."""
from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

PASSWORD = "correct horse battery staple"
_names = itertools.count(1)


def unique(name: str) -> str:
    return f"{name}{next(_names)}{uuid.uuid4().hex[:4]}"


@dataclass
class User:
    base_url: str
    user_id: str
    token: str
    device_id: str
    localpart: str
    since: str | None = None
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def call(self, method: str, path: str, body: Any = None, *, status: int = 200,
             params: dict | None = None, token: bool = True) -> dict:
        prefix = "" if path.startswith("/_matrix") else "/_matrix/client/v3"
        headers = {"Authorization": f"Bearer {self.token}"} if token else {}
        r = self.http.request(method, self.base_url + prefix + path, json=body, params=params, headers=headers)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        return r.json()

    def sync(self, *, filter: dict | None = None, since: str | None | bool = True, timeout: int = 0,
             full_state: bool = False) -> dict:
        """A /sync from `self.since` (or `since`), remembering `next_batch`; `since=None` is initial."""
        params: dict[str, Any] = {"timeout": timeout}
        token = self.since if since is True else since
        if token:
            params["since"] = token
        if filter is not None:
            params["filter"] = json.dumps(filter)
        if full_state:
            params["full_state"] = "true"
        resp = self.call("GET", "/sync", params=params)
        self.since = resp["next_batch"]
        return resp

    def create_room(self, **body: Any) -> str:
        return self.call("POST", "/createRoom", body)["room_id"]

    def join(self, room_id: str) -> None:
        self.call("POST", f"/join/{quote(room_id)}", {})

    def leave(self, room_id: str) -> None:
        self.call("POST", f"/rooms/{quote(room_id)}/leave", {})

    def send(self, room_id: str, body: str = "hello", **content: Any) -> str:
        txn = uuid.uuid4().hex
        return self.call("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/{txn}",
                         {"msgtype": "m.text", "body": body, **content})["event_id"]

    def state(self, room_id: str, event_type: str, content: dict, state_key: str = "") -> str:
        return self.call("PUT", f"/rooms/{quote(room_id)}/state/{event_type}/{quote(state_key)}",
                         content)["event_id"]

    def login(self) -> "User":
        """A new device of the same account, by password login."""
        resp = self.call("POST", "/login", {"type": "m.login.password", "password": PASSWORD,
                                            "identifier": {"type": "m.id.user", "user": self.localpart}},
                         token=False)
        return User(self.base_url, resp["user_id"], resp["access_token"], resp["device_id"], self.localpart)


def register(base_url: str, name: str) -> User:
    localpart = unique(name)
    with httpx.Client(timeout=30) as http:
        r = http.post(base_url + "/_matrix/client/v3/register",
                      json={"username": localpart, "password": PASSWORD, "auth": {"type": "m.login.dummy"}})
        assert r.status_code == 200, r.text
        body = r.json()
    return User(base_url, body["user_id"], body["access_token"], body["device_id"], localpart)
