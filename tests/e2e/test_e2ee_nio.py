"""End-to-end encryption through a real Hearth process, with matrix-nio (vodozemac) as the client.

Two users chat in an encrypted room and decrypt each other's messages; a new device of one
shows up in the other's device list; a key backup round-trips; and to-device messages arrive
exactly once across a server restart.
"""
from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    KeysQueryResponse,
    LoginResponse,
    MegolmEvent,
    RegisterResponse,
    RoomCreateResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)
from nio.api import RoomPreset

from tests.conftest import start_server
from tests.e2e.nio_support import sync_until as _sync_until

pytestmark = pytest.mark.timeout(180)

PASSWORD = "correct horse battery staple"
ENCRYPTION = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


def e2ee_client(base_url: str, name: str, store: Path) -> AsyncClient:
    store.mkdir(parents=True, exist_ok=True)
    config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
    return AsyncClient(base_url, name, store_path=str(store), config=config)


async def settle(client: AsyncClient) -> SyncResponse:
    """One sync, then whatever key work the sync asked for (upload, query, claim)."""
    resp = await client.sync(timeout=500, full_state=False)
    assert isinstance(resp, SyncResponse), resp
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        assert isinstance(await client.keys_query(), KeysQueryResponse)
    return resp


async def sync_until(client: AsyncClient, predicate, timeout: float = 20.0) -> SyncResponse:
    """Sync, doing the key work each sync asks for, until `predicate` holds."""
    return await _sync_until(client, predicate, timeout, step=settle)


def texts(resp: SyncResponse, room_id: str) -> list[str]:
    room = resp.rooms.join.get(room_id)
    if room is None:
        return []
    return [e.body for e in room.timeline.events if isinstance(e, RoomMessageText)]


def undecryptable(resp: SyncResponse, room_id: str) -> list[MegolmEvent]:
    room = resp.rooms.join.get(room_id)
    return [e for e in room.timeline.events if isinstance(e, MegolmEvent)] if room else []


async def receive_text(client: AsyncClient, room_id: str, body: str) -> None:
    """Sync until `body` arrives decrypted; an event that cannot be decrypted fails the test."""
    def check(resp: SyncResponse) -> bool:
        assert not undecryptable(resp, room_id), undecryptable(resp, room_id)
        return body in texts(resp, room_id)
    await sync_until(client, check)


async def send_encrypted(client: AsyncClient, room_id: str, body: str) -> None:
    resp = await client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body},
                                  tx_id=str(uuid.uuid4()), ignore_unverified_devices=True)
    assert isinstance(resp, RoomSendResponse), resp


async def test_encrypted_chat_devices_backup_and_to_device(server, tmp_path):
    anna = e2ee_client(server.base_url, "anna", tmp_path / "anna")
    ben = e2ee_client(server.base_url, "ben", tmp_path / "ben")
    anna2 = e2ee_client(server.base_url, "anna", tmp_path / "anna2")
    clients = [anna, ben, anna2]
    try:
        for c, name in ((anna, "anna"), (ben, "ben")):
            assert isinstance(await c.register(name, PASSWORD, device_name=f"{name}'s phone"), RegisterResponse)
            await settle(c)
            assert not c.should_upload_keys
            assert c.olm.account.shared

        # Anna creates an encrypted room and invites Ben, who joins.
        created = await anna.room_create(name="Secrets", invite=[ben.user_id], preset=RoomPreset.private_chat,
                                         initial_state=[ENCRYPTION])
        assert isinstance(created, RoomCreateResponse), created
        room_id = created.room_id
        await sync_until(ben, lambda r: room_id in r.rooms.invite)
        assert isinstance(await ben.join(room_id), JoinResponse)
        await sync_until(ben, lambda r: room_id in r.rooms.join)
        await sync_until(anna, lambda r: ben.user_id in anna.rooms[room_id].users)
        assert anna.rooms[room_id].encrypted

        # Each decrypts the other's messages.
        await send_encrypted(anna, room_id, "the cake is in the oven")
        await receive_text(ben, room_id, "the cake is in the oven")
        await send_encrypted(ben, room_id, "save me a slice")
        await receive_text(anna, room_id, "save me a slice")

        # A new device of Anna's shows up in Ben's list of her devices.
        assert [d.id for d in ben.device_store.active_user_devices(anna.user_id)] == [anna.device_id]
        logged_in = await anna2.login(PASSWORD, device_name="anna's laptop")
        assert isinstance(logged_in, LoginResponse), logged_in
        await settle(anna2)

        def ben_knows_laptop(_):
            return anna2.device_id in {d.id for d in ben.device_store.active_user_devices(anna.user_id)}
        await sync_until(ben, ben_knows_laptop)
        # ... and gets the keys of Ben's next message.
        await send_encrypted(ben, room_id, "hello laptop")
        await receive_text(anna2, room_id, "hello laptop")

        # A key backup round-trips (raw HTTP).
        headers = {"Authorization": f"Bearer {anna.access_token}"}
        api = f"{server.base_url}/_matrix/client/v3"
        async with httpx.AsyncClient(headers=headers, timeout=10) as http:
            r = await http.post(f"{api}/room_keys/version",
                                json={"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2",
                                      "auth_data": {"public_key": "pk"}})
            version = r.json()["version"]
            session = {"first_message_index": 0, "forwarded_count": 0, "is_verified": True,
                       "session_data": {"ephemeral": "e", "ciphertext": "c", "mac": "m"}}
            r = await http.put(f"{api}/room_keys/keys", params={"version": version},
                               json={"rooms": {room_id: {"sessions": {"s1": session}}}})
            assert r.status_code == 200 and r.json()["count"] == 1
            r = await http.get(f"{api}/room_keys/keys", params={"version": version})
            assert r.json() == {"rooms": {room_id: {"sessions": {"s1": session}}}}
            r = await http.get(f"{api}/room_keys/version")
            assert r.json()["version"] == version and r.json()["count"] == 1

        # To-device messages arrive exactly once, across a restart.
        await settle(ben)  # ben is up to date
        await to_device(server.base_url, anna, ben, "before-1")
        seen = await collect_to_device(ben, {"before-1"})
        assert seen == ["before-1"]
        await to_device(server.base_url, anna, ben, "before-2")  # not yet synced by Ben

        server.stop()
        restarted = start_server(server.data_dir)
        try:
            for c in clients:
                c.homeserver = restarted.base_url
            seen = await collect_to_device(ben, {"before-2"})
            assert seen == ["before-2"]
            await to_device(restarted.base_url, anna, ben, "after")
            seen = await collect_to_device(ben, {"after"})
            assert seen == ["after"]
            # Nothing comes twice.
            for _ in range(2):
                resp = await settle(ben)
                assert test_messages(resp) == []
            # Encrypted chat still works after the restart.
            await send_encrypted(anna, room_id, "still here")
            await receive_text(ben, room_id, "still here")
        finally:
            restarted.stop()
    finally:
        for c in clients:
            await c.close()


async def to_device(base_url: str, sender: AsyncClient, target: AsyncClient, tag: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.put(f"{base_url}/_matrix/client/v3/sendToDevice/org.hearth.test/{uuid.uuid4()}",
                           headers={"Authorization": f"Bearer {sender.access_token}"},
                           json={"messages": {target.user_id: {target.device_id: {"tag": tag}}}})
        assert r.status_code == 200, r.text


def test_messages(resp: SyncResponse) -> list[str]:
    return [e.source["content"]["tag"] for e in resp.to_device_events
            if e.source.get("type") == "org.hearth.test"]


test_messages.__test__ = False  # a helper, not a test


async def collect_to_device(client: AsyncClient, wanted: set[str], timeout: float = 15.0) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not wanted <= set(seen):
        seen += test_messages(await settle(client))
    # One more round: a duplicate would show up now.
    seen += test_messages(await settle(client))
    return seen
