"""A small push gateway for tests: POST /_matrix/push/v1/notify on loopback, recording bodies.

`answers` scripts the replies: each entry is (status, json body); when it runs out the gateway
answers 200 {"rejected": []}.
"""
from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web


class PushGateway:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.attempts = 0
        self._runner: web.AppRunner | None = None
        self.url = ""
        self._arrived = asyncio.Condition()

    async def start(self) -> "PushGateway":
        app = web.Application()
        app.router.add_post("/_matrix/push/v1/notify", self._notify)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/_matrix/push/v1/notify"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _notify(self, request: web.Request) -> web.Response:
        self.attempts += 1
        body = await request.json()
        status, answer = self.answers.pop(0) if self.answers else (200, {"rejected": []})
        if status == 200:
            self.received.append(body)
            async with self._arrived:
                self._arrived.notify_all()
        return web.json_response(answer, status=status)

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        async def enough() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.received) >= count)

        await asyncio.wait_for(enough(), timeout)
        return self.received
