"""Backup → wipe → restore with a real server and matrix-nio clients, and every refusal.

The backup is taken with the server running (`hearth backup`), the data directory is wiped, and
`hearth restore` brings it back: the users log in again with their passwords, read their
history and download their media; old access tokens, devices and sync tokens still work.
A wrong key, a damaged file, another server's archive and a non-empty data directory are
refused with a clear message and leave the current data untouched.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from nio import AsyncClient, LoginResponse, RegisterResponse, RoomMessagesResponse, UploadResponse

from tests.conftest import ROOT, start_server

pytestmark = pytest.mark.timeout(180)


def hearth(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "appliance", *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def tree_digest(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


async def _fill(base_url: str) -> dict:
    alice = AsyncClient(base_url, "alice")
    bob = AsyncClient(base_url, "bob")
    try:
        assert isinstance(await alice.register("alice", "alice's long password"), RegisterResponse)
        assert isinstance(await bob.register("bob", "bob's long password"), RegisterResponse)
        room = (await alice.room_create(name="Family", invite=[bob.user_id])).room_id
        await bob.join(room)
        sent = []
        for i in range(6):
            who = alice if i % 2 == 0 else bob
            r = await who.room_send(room, "m.room.message", {"msgtype": "m.text", "body": f"message {i}"})
            sent.append(r.event_id)
        photo = os.urandom(150_000)
        up, _ = await alice.upload(io.BytesIO(photo), content_type="image/jpeg", filename="photo.jpg",
                                   filesize=len(photo))
        assert isinstance(up, UploadResponse), up
        r = await alice.room_send(room, "m.room.message", {"msgtype": "m.image", "body": "photo.jpg",
                                                           "url": up.content_uri})
        sent.append(r.event_id)
        kb = httpx.post(f"{base_url}/_matrix/client/v3/room_keys/version",
                        headers={"Authorization": f"Bearer {alice.access_token}"},
                        json={"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2",
                              "auth_data": {"public_key": "hearthtestpublickeyAAAAAAAAAAAAAAAAAAAAAAA"}})
        assert kb.status_code == 200, kb.text
        s = await alice.sync(timeout=0)
        return {"key_backup": kb.json()["version"], "room": room, "sent": sent, "photo": photo, "mxc": up.content_uri, "token": alice.access_token,
                "device": alice.device_id, "next_batch": s.next_batch}
    finally:
        await alice.close()
        await bob.close()


async def test_backup_wipe_restore_round_trip(tmp_path):
    data = tmp_path / "data"
    srv = start_server(data)
    try:
        before = await _fill(srv.base_url)
        kit = tmp_path / "kit.txt"
        out = tmp_path / "usb"
        out.mkdir()
        res = hearth(srv.env, "backup", "--to", str(out), "--kit", str(kit))  # while the server runs
        assert res.returncode == 0, res.stderr
        assert "%" in res.stderr and "verifying" in res.stderr  # progress was shown
        assert "EMERGENCY KIT" in res.stdout and kit.read_text().count("Key:") == 1
        assert kit.stat().st_mode & 0o777 == 0o600
        archive = next(out.glob("*.hearthbackup"))
        # Written after the backup: not in it.
        late = httpx.put(f"{srv.base_url}/_matrix/client/v3/rooms/{before['room']}/send/m.room.message/late",
                         headers={"Authorization": f"Bearer {before['token']}"},
                         json={"msgtype": "m.text", "body": "after the backup"}).json()["event_id"]
        signing_key = (data / "signing.key").read_bytes()
    finally:
        srv.stop()
    shutil.rmtree(data)  # the SD card died

    res = hearth(srv.env, "restore", str(archive), "--key-file", str(kit))
    assert res.returncode == 0, res.stderr
    assert (data / "signing.key").read_bytes() == signing_key
    srv = start_server(data)
    try:
        alice = AsyncClient(srv.base_url, "@alice:hearth.test")
        try:
            login = await alice.login("alice's long password", device_name="new phone")
            assert isinstance(login, LoginResponse), login
            msgs = await alice.room_messages(before["room"], start="", limit=100)
            assert isinstance(msgs, RoomMessagesResponse), msgs
            ids = [e.event_id for e in reversed(msgs.chunk) if getattr(e, "event_id", None)]
            got = [i for i in ids if i in before["sent"]]
            assert got == before["sent"]  # every message, in order
            assert late not in ids
            dl = await alice.download(mxc=before["mxc"])
            assert getattr(dl, "body", None) == before["photo"]
        finally:
            await alice.close()
        # The old device's access token, its device and its sync token are still good.
        h = {"Authorization": f"Bearer {before['token']}"}
        kb = httpx.get(f"{srv.base_url}/_matrix/client/v3/room_keys/version", headers=h).json()
        assert kb["version"] == before["key_backup"]  # the keys are there
        who = httpx.get(f"{srv.base_url}/_matrix/client/v3/account/whoami", headers=h).json()
        assert who["device_id"] == before["device"]
        devices = httpx.get(f"{srv.base_url}/_matrix/client/v3/devices", headers=h).json()["devices"]
        assert before["device"] in {d["device_id"] for d in devices}
        s = httpx.get(f"{srv.base_url}/_matrix/client/v3/sync", headers=h,
                      params={"since": before["next_batch"], "timeout": 0})
        assert s.status_code == 200, s.text
        assert int(s.json()["next_batch"][1:].split("_")[0]) >= int(before["next_batch"][1:].split("_")[0])
        bob = AsyncClient(srv.base_url, "@bob:hearth.test")
        try:
            assert isinstance(await bob.login("bob's long password"), LoginResponse)
        finally:
            await bob.close()
    finally:
        srv.stop()


async def test_restore_refusals_leave_data_untouched(tmp_path):
    data = tmp_path / "data"
    srv = start_server(data)
    try:
        await _fill(srv.base_url)
        out = tmp_path / "usb"
        out.mkdir()
        kit = tmp_path / "kit.txt"
        res = hearth(srv.env, "backup", "--to", str(out), "--kit", str(kit))
        assert res.returncode == 0, res.stderr
        archive = next(out.glob("*.hearthbackup"))
        res = hearth(srv.env, "restore", str(archive), "--key-file", str(kit), "--force")
        assert res.returncode == 1 and "stop it before restoring" in res.stderr  # not under a running server
        assert not list(tmp_path.glob("data.before-restore-*"))
    finally:
        srv.stop()
    archive = next(out.glob("*.hearthbackup"))
    env = dict(srv.env)
    target = tmp_path / "new-card"
    env["HEARTH_DATA_DIR"] = str(target)

    other_kit = tmp_path / "other-kit.txt"
    other_kit.write_text("Key: " + "A" * 52 + "\n")
    res = hearth(env, "restore", str(archive), "--key-file", str(other_kit))
    assert res.returncode == 1 and "Wrong key" in res.stderr and "Nothing was changed" in res.stderr
    assert not target.exists() or not any(target.iterdir())

    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    damaged = tmp_path / "damaged.hearthbackup"
    damaged.write_bytes(bytes(raw))
    res = hearth(env, "restore", str(damaged), "--key-file", str(kit))
    assert res.returncode == 1 and "damaged" in res.stderr
    assert not target.exists() or not any(target.iterdir())
    assert not list(tmp_path.glob(".restore-*"))  # the staging directory is cleaned up

    res = hearth({**env, "HEARTH_SERVER_NAME": "other.test"}, "restore", str(archive), "--key-file", str(kit))
    assert res.returncode == 1 and "'hearth.test', not 'other.test'" in res.stderr
    assert not target.exists() or not any(target.iterdir())

    # Over live data: refused without --force, data untouched; with --force the old data is set aside.
    before = tree_digest(data)
    res = hearth(srv.env, "restore", str(archive), "--key-file", str(kit))
    assert res.returncode == 1 and "not empty" in res.stderr
    assert tree_digest(data) == before
    res = hearth(srv.env, "restore", str(damaged), "--key-file", str(kit), "--force")
    assert res.returncode == 1 and tree_digest(data) == before  # --force does not bypass verification

    res = hearth(env, "restore", str(archive), "--key-file", str(kit))
    assert res.returncode == 0, res.stderr
    res = hearth({**env}, "restore", str(archive), "--key", kit.read_text().split("Key:")[1].split()[0], "--force")
    assert res.returncode == 0, res.stderr
    aside = list(tmp_path.glob("new-card.before-restore-*"))
    assert len(aside) == 1 and (aside[0] / "hearth.db").exists()


def test_scheduled_backups_in_the_running_server(tmp_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    srv = start_server(tmp_path / "data", HEARTH_BACKUP_DIR=str(usb), HEARTH_BACKUP_INTERVAL_HOURS=str(1 / 3600),
                       HEARTH_BACKUP_KEEP="2")
    try:
        import sqlite3
        import time

        def runs() -> int:
            conn = sqlite3.connect(tmp_path / "data" / "hearth.db", timeout=10)
            try:
                sql = "SELECT COUNT(*) FROM backup_runs WHERE kind = 'scheduled' AND ok = 1"
                return conn.execute(sql).fetchone()[0]
            finally:
                conn.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and runs() < 3:
            time.sleep(0.2)
        assert runs() >= 3
        archives = sorted(usb.glob("*-scheduled-*.hearthbackup"))
        # The last N are kept (one more may be just published, its pruning still to come).
        assert 2 <= len(archives) <= 3 < runs() + 1
        kit = srv.hearth_cli("backup-key", "show")
        assert "Key:" in kit
    finally:
        srv.stop()
    env = dict(srv.env, HEARTH_DATA_DIR=str(tmp_path / "restored"))
    key = kit.split("Key:")[1].split()[0]
    res = hearth(env, "restore", str(archives[-1]), "--key", key)
    assert res.returncode == 0, res.stderr
