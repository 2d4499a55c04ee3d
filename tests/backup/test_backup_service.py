"""The backup service in-process: archives written while writes go on, verification, the
archive format's refusals, scheduled backups keeping the last N, and failures on the dashboard."""
from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from appliance.core.services import backup as b
from appliance.core.services.rooms.create import CreateRoomRequest
from appliance.hearth import build_hearth



def _settings(tmp_path: Path, **kw):
    from appliance.settings import Settings

    values = dict(server_name="hearth.test", data_dir=tmp_path / "data", bind="127.0.0.1:0",
                  registration="open")
    values.update(kw)
    return Settings(**values)


async def _seed(hearth, n: int = 20) -> str:
    user = await hearth.accounts.registration.create_user("alice", "correct horse battery")
    room_id = await hearth.rooms.creation.create_room(user, CreateRoomRequest(name="Family"))
    for i in range(n):
        await hearth.rooms.messages.send_message(room_id, user, "m.room.message", {"msgtype": "m.text", "body": f"hi {i}"},
                                        txn_id=f"t{i}", device_id=None)
    return room_id


def test_key_format_round_trip():
    key = b.new_key()
    text = b.format_key(key)
    assert b.parse_key(text) == key
    assert b.parse_key(text.lower().replace("-", " ")) == key
    assert b.read_key_text(b.emergency_kit(key, "hearth.test")) == key
    with pytest.raises(b.WrongKey):
        b.parse_key("not a key")


async def test_backup_while_writing_then_verify_and_refusals(tmp_path):
    settings = _settings(tmp_path)
    hearth = await build_hearth(settings)
    try:
        room_id = await _seed(hearth)
        media = settings.data_dir / "media" / "ab"
        media.mkdir(parents=True)
        blob = os.urandom(3 * b.CHUNK + 123)  # several encrypted records
        (media / "cdef").write_bytes(blob)
        user = "@alice:hearth.test"
        stop = asyncio.Event()

        async def writer():  # the archive is consistent while writes go on
            i = 0
            while not stop.is_set():
                await hearth.rooms.messages.send_message(room_id, user, "m.room.message",
                                                {"msgtype": "m.text", "body": f"during {i}"},
                                                txn_id=f"d{i}", device_id=None)
                i += 1
        task = asyncio.create_task(writer())
        seen: list[tuple[float, str]] = []
        key = b.new_key()
        out = tmp_path / "out"
        out.mkdir()
        result = await hearth.core.backups.run("manual", out, key, lambda f, p: seen.append((f, p)))
        stop.set()
        await task
    finally:
        await hearth.close()
    assert result.path.exists() and result.path.suffix == b.SUFFIX
    assert not list(out.glob("*.part"))
    assert seen[-1] == (1.0, "done") and {p for _, p in seen} >= {"copying the database", "verifying the archive"}
    assert result.row_counts["events"] >= 20
    manifest = b.verify_archive(result.path, key, tmp_path)
    assert manifest["server_name"] == "hearth.test"
    assert manifest["files"]["media/ab/cdef"]["size"] == len(blob)
    assert "signing.key" in manifest["files"]
    assert manifest["settings"]["server_name"] == "hearth.test"
    # The temporary copy in data_dir is gone.
    assert not [p for p in settings.data_dir.iterdir() if p.name.startswith(".backup-")]

    with pytest.raises(b.WrongKey):
        b.verify_archive(result.path, b.new_key(), tmp_path)
    raw = bytearray(result.path.read_bytes())
    for where in (len(raw) // 2, len(raw) - 5, 40):  # a record, the last record, the header
        bad = tmp_path / "bad.hearthbackup"
        damaged = bytearray(raw)
        damaged[where] ^= 0x01
        bad.write_bytes(bytes(damaged))
        with pytest.raises(b.BackupError):
            b.verify_archive(bad, key, tmp_path)
    cut = tmp_path / "cut.hearthbackup"
    cut.write_bytes(bytes(raw[: len(raw) - b.CHUNK // 2]))
    with pytest.raises(b.DamagedArchive, match="cut short|damaged"):
        b.verify_archive(cut, key, tmp_path)
    with pytest.raises(b.OtherServer):
        b.verify_archive(result.path, key, tmp_path, expected_server="other.test")


async def test_scheduled_backups_keep_last_n_and_failures_are_visible(tmp_path):
    dest = tmp_path / "usb"
    dest.mkdir()
    settings = _settings(tmp_path, backup_dir=dest, backup_keep=2, backup_interval_hours=0.5 / 3600)
    hearth = await build_hearth(settings)
    try:
        await _seed(hearth, 3)
        manual = await hearth.core.backups.run("manual", dest, b.new_key())
        hearth.core.backups.start()
        for _ in range(200):  # the scheduler runs every half second
            await asyncio.sleep(0.1)
            n = await hearth.core.db.fetchval("SELECT COUNT(*) FROM backup_runs WHERE kind='scheduled' AND ok=1")
            if n >= 3:
                break
        await hearth.core.backups.stop()
        assert n >= 3
        scheduled = sorted(dest.glob("*-scheduled-*" + b.SUFFIX))
        assert len(scheduled) == 2  # the last N
        assert manual.path.exists()  # an operator's own backup is never pruned
        key = b.stored_key(settings.data_dir)
        assert key is not None and (settings.data_dir / b.KEY_FILE).stat().st_mode & 0o777 == 0o600
        b.verify_archive(scheduled[-1], key, tmp_path)
        status = await hearth.core.backups.status()
        assert status["last"]["ok"] and not status["failing"]

        # The USB drive is gone: the failure is recorded and shown.
        hearth.settings.backup_dir = tmp_path / "unplugged"
        with pytest.raises(b.BackupError):
            await hearth.core.backups.run_scheduled()
        status = await hearth.core.backups.status()
        assert status["failing"] and "does not exist" in status["last"]["error"]
        assert status["last_ok"]["ok"]
        report = await hearth.core.health.report()
        assert any("backup failed" in w for w in report["warnings"])
        assert report["storage"]["disk_full"] is False
    finally:
        await hearth.close()
    conn = sqlite3.connect(settings.database_path)
    assert conn.execute("SELECT COUNT(*) FROM backup_runs WHERE ok = 0").fetchone()[0] == 1
    conn.close()


def test_stale_work_of_a_crashed_backup_is_removed(tmp_path):
    data = tmp_path / "data"
    old = data / ".backup-dead"
    old.mkdir(parents=True)
    (old / "hearth.db").write_bytes(b"x")
    os.utime(old, (0, 0))
    fresh = data / ".backup-running"
    fresh.mkdir()
    assert b.cleanup_stale_work(data) == [old]
    assert not old.exists() and fresh.exists()
