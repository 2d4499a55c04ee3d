"""matrix-nio helpers the end-to-end tests share: a registered client, syncing until something
arrives, sending a text. Import as `from tests.e2e.nio_support import ...`."""
from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

from nio import AsyncClient, RegisterResponse, RoomSendResponse, SyncResponse


async def new_user(base_url: str, name: str, *, password: str | None = None, device_name: str | None = None,
                   first_sync: bool = False, set_presence: str | None = None) -> AsyncClient:
    """A client registered as `name` (password "correct horse <name> battery" unless given);
    with `first_sync`, it has synced once (with `set_presence`, if given)."""
    client = AsyncClient(base_url, name)
    resp = await client.register(name, password or f"correct horse {name} battery",
                                 **({"device_name": device_name} if device_name else {}))
    assert isinstance(resp, RegisterResponse), resp
    assert client.user_id == f"@{name}:hearth.test"
    if first_sync:
        first = await client.sync(timeout=0, **({"set_presence": set_presence} if set_presence else {}))
        assert isinstance(first, SyncResponse), first
    return client


async def sync_until(client: AsyncClient, predicate: Callable[[SyncResponse], object], timeout: float = 10.0,
                     step: Callable[[AsyncClient], Awaitable[SyncResponse]] | None = None) -> SyncResponse:
    """Sync (long-polling 1 s, or with `step`) until `predicate(response)` holds; that response."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = await step(client) if step is not None else await client.sync(timeout=1000)
        assert isinstance(resp, SyncResponse), resp
        if predicate(resp):
            return resp
    raise AssertionError("sync did not deliver what was expected in time")


async def send_text(client: AsyncClient, room_id: str, body: str, mention: str | None = None) -> str:
    """An m.text message (mentioning `mention` in m.mentions, if given); its event ID."""
    content: dict = {"msgtype": "m.text", "body": body}
    if mention:
        content["m.mentions"] = {"user_ids": [mention]}
    resp = await client.room_send(room_id, "m.room.message", content, tx_id=str(uuid.uuid4()))
    assert isinstance(resp, RoomSendResponse), resp
    return resp.event_id
