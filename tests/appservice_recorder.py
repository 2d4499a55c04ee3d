"""A recording application service for tests: a real HTTP server on loopback that keeps every
request Hearth makes to it and answers as the test says (accept, refuse, or a handler of its own).
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

Handler = Callable[["Request"], Awaitable[tuple[int, Any]]]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    accepted: bool = False  # answered 200


@dataclass
class RecordingAppService:
    hs_token: str = "hs-token-for-tests"
    requests: list[Request] = field(default_factory=list)
    # path prefix → handler; the default accepts with {}.
    handlers: dict[str, Handler] = field(default_factory=dict)
    refuse_transactions: int = 0  # answer 500 to this many transactions first
    port: int = 0
    _server: asyncio.AbstractServer | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def transactions(self) -> list[Request]:
        return [r for r in self.requests if r.path.startswith("/_matrix/app/v1/transactions/")]

    def accepted_events(self) -> list[dict]:
        """Events of transactions answered 200, each transaction id once."""
        seen: dict[str, list] = {}
        for r in self.transactions():
            if r.accepted:
                seen.setdefault(r.path, r.body.get("events", []))
        return [e for events in seen.values() for e in events]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError("the appservice did not receive what was expected in time")
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), min(remaining, 0.5))
            except TimeoutError:
                pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
            body = json.loads(raw) if raw else None
            request = Request(method, unquote(urlsplit(target).path), headers, body)
            self.requests.append(request)
            status, answer = await self._answer(request)
            request.accepted = status == 200
            data = json.dumps(answer).encode()
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                         f"Connection: close\r\n\r\n".encode() + data)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.arrived.set()

    async def _answer(self, request: Request) -> tuple[int, Any]:
        if request.headers.get("authorization") != f"Bearer {self.hs_token}":
            return 403, {"errcode": "M_FORBIDDEN"}
        for prefix, handler in self.handlers.items():
            if request.path.startswith(prefix):
                return await handler(request)
        if request.path.startswith("/_matrix/app/v1/transactions/") and self.refuse_transactions > 0:
            self.refuse_transactions -= 1
            return 500, {"errcode": "M_UNKNOWN", "error": "not now"}
        if request.path.startswith(("/_matrix/app/v1/users/", "/_matrix/app/v1/rooms/")):
            return 404, {"errcode": "M_NOT_FOUND"}
        return 200, {}


def registration(url: str | None, *, id: str = "irc", as_token: str = "as-token-for-tests",
                 hs_token: str = "hs-token-for-tests", sender: str = "_irc_bot", **extra: Any) -> dict:
    return {
        "id": id, "url": url, "as_token": as_token, "hs_token": hs_token, "sender_localpart": sender,
        "namespaces": {
            "users": [{"regex": "@_irc_.*", "exclusive": True}],
            "aliases": [{"regex": "#_irc_.*", "exclusive": True}],
            "rooms": [],
        },
        "rate_limited": False,
        **extra,
    }
