"""A full disk: writes refused with a clear error, reads go on, nothing damaged, writing resumes
by itself once space is freed; and start-up refuses when there is no room for the WAL.

The disk is a small tmpfs mounted for the test (root only); without it the tests are skipped
with the reason (in CI, where `make test` runs as root, they fail instead: tests/needs.py).
"""
from __future__ import annotations

import asyncio
import errno
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from appliance.core.services.rooms.create import CreateRoomRequest
from appliance.core.storage.disk import DiskFull, check_free_space, is_disk_full
from appliance.hearth import build_hearth
from appliance.settings import Settings
from tests.conftest import ROOT, start_server
from tests.needs import unavailable

API = "/_matrix/client/v3"
pytestmark = pytest.mark.timeout(120)


def _mount_tmpfs(path: Path, size_mb: int) -> str | None:
    """Mount a tmpfs of size_mb at path; returns why it cannot, or None."""
    if os.geteuid() != 0:
        return "mounting a size-limited tmpfs needs root"
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return f"mount -t tmpfs failed: {r.stderr.strip() or r.returncode}"
    return None


@pytest.fixture
def small_disk(tmp_path, request):
    size = getattr(request, "param", 40)
    disk = tmp_path / "disk"
    why = _mount_tmpfs(disk, size)
    if why:
        unavailable(why)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def fill(disk: Path, leave: int = 0) -> Path:
    """Write a filler file until the disk is full (or only `leave` bytes are free)."""
    filler = disk / f"filler-{uuid.uuid4().hex[:6]}"
    block = b"\0" * (256 * 1024)
    with open(filler, "wb") as f:
        try:
            while True:
                st = os.statvfs(disk)
                free = st.f_bavail * st.f_frsize
                if leave and free - len(block) < leave:
                    if free > leave:
                        f.write(b"\0" * (free - leave))
                    break
                f.write(block)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_is_disk_full_mapping():
    assert is_disk_full(sqlite3.OperationalError("database or disk is full"))
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert is_disk_full(outer)
    assert not is_disk_full(sqlite3.OperationalError("database is locked"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    err = DiskFull("http://hearth.local")
    assert err.status == 403 and err.to_json()["errcode"] == "M_RESOURCE_LIMIT_EXCEEDED"
    assert "disk is full" in err.to_json()["error"] and err.to_json()["admin_contact"]


async def test_writer_survives_a_full_disk_and_flags_it(small_disk):
    settings = Settings(server_name="hearth.test", data_dir=small_disk / "data", bind="127.0.0.1:0")
    hearth = await build_hearth(settings)
    try:
        user = await hearth.accounts.registration.create_user("alice", "a long password here")
        room = await hearth.rooms.creation.create_room(user, CreateRoomRequest(name="Family"))
        ids = [await hearth.rooms.messages.send_message(room, user, "m.room.message", {"msgtype": "m.text", "body": f"{i}"},
                                               txn_id=f"a{i}", device_id=None) for i in range(5)]
        filler = fill(small_disk)
        refused = 0
        for i in range(400):  # the WAL may still have room for a few
            try:
                ids.append(await hearth.rooms.messages.send_message(
                    room, user, "m.room.message", {"msgtype": "m.text", "body": "x" * 4000 + str(i)},
                    txn_id=f"b{i}", device_id=None))
            except DiskFull:
                refused += 1
                break
        assert refused, "the disk never filled"
        assert hearth.core.health.disk_full and hearth.core.db.health.disk_full_since_ms
        report = await hearth.core.health.report()
        assert report["storage"]["disk_full"] and any("disk is full" in w for w in report["warnings"])
        # Reads keep working.
        for eid in ids:
            assert (await hearth.core.event_store.get_event(eid)) is not None
        # Several writers at once: all refused, none hangs, the writer keeps running.
        results = await asyncio.gather(*(hearth.rooms.messages.send_message(
            room, user, "m.room.message", {"msgtype": "m.text", "body": "y" * 4000}, txn_id=f"c{i}",
            device_id=None) for i in range(5)), return_exceptions=True)
        assert all(isinstance(r, (DiskFull, str)) for r in results)
        assert any(isinstance(r, DiskFull) for r in results)
        ids += [r for r in results if isinstance(r, str)]
        filler.unlink()  # space is freed: writing resumes by itself
        ids.append(await hearth.rooms.messages.send_message(room, user, "m.room.message", {"msgtype": "m.text", "body": "back"},
                                                   txn_id="d", device_id=None))
        assert not hearth.core.health.disk_full and hearth.core.db.health.recovered_ms
        for eid in ids:
            assert (await hearth.core.event_store.get_event(eid)) is not None
    finally:
        await hearth.close()
    conn = sqlite3.connect(settings.database_path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()


def _register(base: str) -> dict:
    body = {"username": "alice", "password": "a long password here"}
    r = httpx.post(base + API + "/register", json=body)
    if r.status_code == 401:
        body["auth"] = {"type": "m.login.dummy", "session": r.json()["session"]}
        r = httpx.post(base + API + "/register", json=body)
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_full_disk_over_http(small_disk):
    data = small_disk / "data"
    srv = start_server(data)
    try:
        h = _register(srv.base_url)
        room = httpx.post(srv.base_url + API + "/createRoom", json={"name": "Family"}, headers=h).json()["room_id"]
        acked = []
        for i in range(5):
            r = httpx.put(f"{srv.base_url}{API}/rooms/{room}/send/m.room.message/a{i}",
                          json={"msgtype": "m.text", "body": f"before {i}"}, headers=h)
            acked.append(r.json()["event_id"])
        filler = fill(small_disk)
        err = None
        for i in range(400):
            r = httpx.put(f"{srv.base_url}{API}/rooms/{room}/send/m.room.message/b{i}",
                          json={"msgtype": "m.text", "body": "x" * 4000}, headers=h)
            if r.status_code == 200:
                acked.append(r.json()["event_id"])
                continue
            err = r
            break
        assert err is not None, "the disk never filled"
        assert err.status_code == 403, err.text
        j = err.json()
        assert j["errcode"] == "M_RESOURCE_LIMIT_EXCEEDED" and "disk is full" in j["error"] and j["admin_contact"]
        r = httpx.put(f"{srv.base_url}{API}/user/@alice:hearth.test/account_data/org.example.x", json={"a": 1},
                      headers=h)
        assert r.status_code == 403 and r.json()["errcode"] == "M_RESOURCE_LIMIT_EXCEEDED"
        r = httpx.post(f"{srv.base_url}/_matrix/media/v3/upload", content=os.urandom(2 * 1024 * 1024),
                       headers={**h, "Content-Type": "application/octet-stream"})
        assert r.status_code == 403 and r.json()["errcode"] == "M_RESOURCE_LIMIT_EXCEEDED", r.text
        # Reads keep working.
        r = httpx.get(f"{srv.base_url}{API}/rooms/{room}/messages", params={"dir": "b", "limit": 1000}, headers=h)
        assert r.status_code == 200
        served = {e["event_id"] for e in r.json()["chunk"]}
        assert set(acked) <= served
        assert httpx.get(f"{srv.base_url}{API}/sync", params={"timeout": 0}, headers=h).status_code == 200
        filler.unlink()  # writing resumes by itself, no restart
        r = httpx.put(f"{srv.base_url}{API}/rooms/{room}/send/m.room.message/again",
                      json={"msgtype": "m.text", "body": "after"}, headers=h)
        assert r.status_code == 200, r.text
        acked.append(r.json()["event_id"])
        r = httpx.put(f"{srv.base_url}{API}/user/@alice:hearth.test/account_data/org.example.x", json={"a": 1},
                      headers=h)
        assert r.status_code == 200
    finally:
        srv.stop()
    conn = sqlite3.connect(data / "hearth.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = {r[0] for r in conn.execute("SELECT event_id FROM events")}
        assert set(acked) <= stored
    finally:
        conn.close()


@pytest.mark.parametrize("small_disk", [24], indirect=True)
def test_startup_refused_without_room_for_the_wal(small_disk):
    data = small_disk / "data"
    filler = fill(small_disk, leave=8 * 1024 * 1024)  # 8 MiB free, 16 MiB needed
    env = dict(os.environ, HEARTH_DATA_DIR=str(data), HEARTH_SERVER_NAME="hearth.test", HEARTH_BIND="127.0.0.1:0",
               HEARTH_LAN_DISCOVERY="false")
    r = subprocess.run([sys.executable, "-m", "appliance", "run"], env=env, capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 1
    assert "Hearth cannot start" in r.stderr and "free" in r.stderr and "write-ahead log" in r.stderr
    assert not (data / "hearth.db").exists()  # nothing half-made
    with pytest.raises(SystemExit, match="cannot start"):
        check_free_space(data, 16 * 1024 * 1024)
    filler.unlink()
    check_free_space(data, 16 * 1024 * 1024)  # room again: no complaint
    srv = start_server(data)
    srv.stop()
