"""matrix-rust-sdk, the SDK inside Element X, against a real Hearth: two clients log in with a
password, run `SyncService` (simplified sliding sync: the room list's connection and the
encryption connection) and `RoomListService`, and chat in an encrypted room, each reading the
other's message decrypted (tests/rust_client/src/main.rs).

The client takes long to build (matrix-sdk and its crypto: ~30 min on two shared cores), so this
is an opt-in test: `make rust-sdk-test` builds it into /var/cache/hearth-rust-sdk and runs this
with HEARTH_RUST_SDK_CLIENT set. Without that variable it is skipped, in CI too (it is not part of
`make test`); with it set, a missing binary is a failure.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

CLIENT = os.environ.get("HEARTH_RUST_SDK_CLIENT")
PASSWORD = "a long family password 42"

pytestmark = pytest.mark.skipif(not CLIENT, reason="opt-in: make rust-sdk-test (builds matrix-rust-sdk)")


def register(base: str, localpart: str) -> str:
    body = {"username": localpart, "password": PASSWORD, "inhibit_login": True}
    r = httpx.post(f"{base}/_matrix/client/v3/register", json=body, timeout=30)
    if r.status_code == 401:
        body["auth"] = {"type": "m.login.dummy", "session": r.json().get("session")}
        r = httpx.post(f"{base}/_matrix/client/v3/register", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["user_id"]


def test_element_x_sdk_chats_with_encryption(server):
    assert CLIENT is not None and Path(CLIENT).is_file(), f"no client binary at {CLIENT}"
    alice = register(server.base_url, "alice")
    bob = register(server.base_url, "bob")
    out = subprocess.run([CLIENT, server.base_url, alice, PASSWORD, bob, PASSWORD],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")})
    assert out.returncode == 0, (out.stdout[-3000:], out.stderr[-6000:])
    assert out.stdout.strip().splitlines()[-1] == "OK", out.stdout
