"""The data directory is the owner's alone (issue 12 item 8): a real server process with the
usual umask (022), a data directory that already existed world-readable, a database file from
an older version at 0644, and a backup written with the command line."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import ROOT, start_server


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_dir_is_0700_and_its_files_0600(tmp_path):
    old_umask = os.umask(0o022)
    try:
        data = tmp_path / "data"
        data.mkdir(mode=0o755)
        os.chmod(data, 0o755)
        (data / "notes.txt").write_text("left by an older version")
        os.chmod(data / "notes.txt", 0o644)
        srv = start_server(data)
        try:
            r = httpx.post(f"{srv.base_url}/_matrix/client/v3/register",
                           json={"username": "ann", "password": "pw-123456", "auth": {"type": "m.login.dummy"}})
            assert r.status_code == 200  # something in the WAL
            assert mode(data) == 0o700
            for name in ("hearth.db", "hearth.db-wal", "hearth.db-shm", "signing.key", "notes.txt"):
                assert (data / name).exists(), name
                assert mode(data / name) & 0o077 == 0, (name, oct(mode(data / name)))
            usb = tmp_path / "usb"
            usb.mkdir(mode=0o755)
            out = subprocess.run([sys.executable, "-m", "appliance", "backup", "--to", str(usb), "--kit",
                                  str(tmp_path / "kit.txt")], env=srv.env, capture_output=True, text=True,
                                 timeout=120, cwd=ROOT)
            assert out.returncode == 0, out.stderr
            archive = next(usb.glob("*.hearthbackup"))
            assert mode(archive) == 0o600
        finally:
            srv.stop()
    finally:
        os.umask(old_umask)


def test_a_fresh_data_dir_is_created_0700(tmp_path):
    from appliance.core.storage.private_files import secure_data_dir

    old_umask = os.umask(0o022)
    try:
        secure_data_dir(tmp_path / "a" / "data")
    finally:
        os.umask(old_umask)
    assert mode(tmp_path / "a" / "data") == 0o700
