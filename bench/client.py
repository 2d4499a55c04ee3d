"""A thin Client-Server API client on bench.http (a raw HTTP/1.1 client spending ~0.04 ms of CPU
per request, so that the server is what is measured): what the scenarios need, nothing else."""
from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from .http import HttpClient

PREFIX = "/_matrix/client/v3"
PASSWORD = "bench-password-1"
_txn = itertools.count()


class ApiError(RuntimeError):
    pass


@dataclass
class User:
    user_id: str
    token: str
    device_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def q(s: str) -> str:
    return quote(s, safe="")


class Api:
    def __init__(self, base_url: str):
        self.http = HttpClient(base_url, timeout=300.0)

    async def close(self) -> None:
        await self.http.close()

    async def call(self, method: str, path: str, user: User | None = None, body: dict | None = None,
                   params: dict | None = None, ok: tuple[int, ...] = (200,)) -> dict:
        target = PREFIX + path + ("?" + urlencode(params) if params else "")
        payload = json.dumps(body).encode() if body is not None else b""
        r = await self.http.request(method, target, payload, user.headers if user else None)
        if r.status not in ok:
            raise ApiError(f"{method} {path}: {r.status} {r.text[:300]}")
        return r.json()

    # -- accounts -----------------------------------------------------------------------------

    async def register(self, localpart: str) -> User:
        body = {"username": localpart, "password": PASSWORD, "initial_device_display_name": "bench",
                "inhibit_login": False}
        r = await self.http.request("POST", PREFIX + "/register", json.dumps(body).encode())
        if r.status == 401:  # user-interactive auth: complete the dummy stage of the session
            body["auth"] = {"type": "m.login.dummy", "session": r.json().get("session")}
            r = await self.http.request("POST", PREFIX + "/register", json.dumps(body).encode())
        if r.status != 200:
            raise ApiError(f"register {localpart}: {r.status} {r.text[:300]}")
        d = r.json()
        return User(d["user_id"], d["access_token"], d["device_id"])

    async def login(self, user_id: str) -> User:
        d = await self.call("POST", "/login", body={
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user_id},
            "password": PASSWORD})
        return User(d["user_id"], d["access_token"], d["device_id"])

    # -- rooms --------------------------------------------------------------------------------

    async def create_room(self, user: User, **body) -> str:
        body.setdefault("preset", "public_chat")
        return (await self.call("POST", "/createRoom", user, body))["room_id"]

    async def join(self, user: User, room_id: str) -> None:
        await self.call("POST", f"/join/{q(room_id)}", user, {})

    async def send(self, user: User, room_id: str, body: str) -> str:
        txn = f"b{next(_txn)}.{time.monotonic_ns()}"
        d = await self.call("PUT", f"/rooms/{q(room_id)}/send/m.room.message/{txn}", user,
                            {"msgtype": "m.text", "body": body})
        return d["event_id"]

    async def set_state(self, user: User, room_id: str, event_type: str, state_key: str, content: dict) -> str:
        d = await self.call("PUT", f"/rooms/{q(room_id)}/state/{q(event_type)}/{q(state_key)}", user, content)
        return d["event_id"]

    async def sync(self, user: User, since: str | None = None, timeout_ms: int = 0,
                   filter_: str | None = None) -> dict:
        params: dict = {"timeout": str(timeout_ms)}
        if since:
            params["since"] = since
        if filter_:
            params["filter"] = filter_
        return await self.call("GET", "/sync", user, params=params)

    async def sliding_sync(self, user: User, body: dict, pos: str | None = None, timeout_ms: int = 0) -> dict:
        """POST simplified sliding sync (MSC4186), as matrix-rust-sdk sends it."""
        params: dict = {"timeout": str(timeout_ms)}
        if pos:
            params["pos"] = pos
        target = SLIDING_SYNC + "?" + urlencode(params)
        r = await self.http.request("POST", target, json.dumps(body).encode(), user.headers)
        if r.status != 200:
            raise ApiError(f"sliding sync: {r.status} {r.text[:300]}")
        return r.json()


SLIDING_SYNC = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"


def message_text(i: int) -> str:
    """The body of message i: the same size on both servers (about 60 bytes)."""
    return f"Benchmark message {i:08d}: the quick brown fox jumps over the dog"
