"""Argon2id holds 64 MiB per hash: at most MAX_CONCURRENT_HASHES run at once, however many
logins and registrations arrive together; the others wait and then succeed."""
from __future__ import annotations

import asyncio
import threading
import time

from appliance.core.services import auth as auth_module


async def test_concurrent_logins_hash_two_at_a_time(hs, monkeypatch):
    running = 0
    most = 0
    lock = threading.Lock()
    real_check = auth_module._check_password_sync

    def counting_check(password: str, stored: str) -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.02)  # long enough for the others to pile up
            return real_check(password, stored)
        finally:
            with lock:
                running -= 1

    await hs.user("alice")
    await hs.hearth.core.account_store.set_password_hash("@alice:" + hs.hearth.server_name,
                                               await hs.hearth.core.auth.hash_password("correct horse"))
    monkeypatch.setattr(auth_module, "_check_password_sync", counting_check)

    async def login() -> int:
        r = await hs.client.post("/_matrix/client/v3/login", json={
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
            "password": "correct horse"})
        return r.status_code

    statuses = await asyncio.gather(*(login() for _ in range(8)))
    assert statuses == [200] * 8
    assert most == auth_module.MAX_CONCURRENT_HASHES
