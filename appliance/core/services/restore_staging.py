"""Restoring while Hearth runs (the admin page, the setup wizard): stage, then restart into it.

A running server cannot swap the data directory under its own open database. So a restore from
the web is done in two halves:

1. `stage_restore()` (server running): the uploaded archive is decrypted and verified exactly
   as `hearth restore` does (every file's hash, the database's integrity check and row counts)
   into `DATA_DIR/.restore-staged.part/`, which is renamed to `.restore-staged/` only when
   complete. Nothing of the current data is touched; any refusal (another server's archive, a
   wrong key, a damaged file, no space) removes the staging directory and says why.
2. `apply_staged_restore()` (start-up, before the database opens): the current data moves into
   `DATA_DIR/.restore-previous-<time>/` (kept, never deleted by Hearth; the admin page offers to
   delete it) and the staged files move into the data directory.

Staging lives *inside* the data directory: under systemd (`StateDirectory=`, `ProtectSystem=
strict`) that is the only place Hearth may write, and a rename within one file system is cheap.
Backups skip every `.restore-*` entry. Applying is journalled, so a power cut in the middle is
finished at the next start: `.restore-staged/.restore-plan.json` names the folder the current
data goes to, and `.restore-staged/.restore-moving-in` marks that all of it is there.

The server restarts itself after staging (appliance/__main__.py: it shuts down cleanly and
re-executes itself with the same arguments; the PID stays, so systemd's `Type=notify` sees a
reload). Where nothing restarts it (an embedded app, the tests), the restore is applied at the
next start.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ..storage import database_files
from . import backup as b

log = logging.getLogger(__name__)

STAGED = ".restore-staged"
STAGING = ".restore-staged.part"
UPLOAD_PREFIX = ".restore-upload-"
PREVIOUS_PREFIX = ".restore-previous-"
PLAN = ".restore-plan.json"
MOVING_IN = ".restore-moving-in"
RESTORED_MARK = "backup.restored"     # server_settings key: when and from what the data was restored


def staged_dir(data_dir: Path) -> Path:
    return Path(data_dir) / STAGED


def has_staged_restore(data_dir: Path) -> bool:
    return staged_dir(data_dir).is_dir()


def new_upload_path(data_dir: Path) -> Path:
    """Where an uploaded archive waits (inside the data directory, never in a backup)."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    return Path(data_dir) / f"{UPLOAD_PREFIX}{secrets.token_hex(8)}{b.SUFFIX}"


def check_archive(path: Path, key: bytes, expected_server: str | None) -> dict[str, Any]:
    """The quick refusals, before hours of decrypting: not a backup, another server, wrong key."""
    header = b.archive_info(path)
    if expected_server is not None and header.get("server_name") != expected_server:
        raise b.OtherServer(b._other_server(header.get("server_name"), expected_server))
    f, reader, header = b._open_archive(path, key, expected_server)  # WrongKey from the key check
    f.close()
    return header


def stage_restore(data_dir: Path, archive: Path, key: bytes, expected_server: str | None,
                  progress: b.Progress | None = None) -> dict[str, Any]:
    """Decrypt and verify `archive` into DATA_DIR/.restore-staged; raises BackupError (data untouched)."""
    data_dir = Path(data_dir)
    final, part = data_dir / STAGED, data_dir / STAGING
    for old in (final, part):  # an older staged restore that never ran is replaced by this one
        shutil.rmtree(old, ignore_errors=True)
    meter = b._Meter(Path(archive).stat().st_size, progress)
    meter.set_phase("decrypting and checking the backup")
    try:
        part.mkdir(mode=0o700)
        manifest = b._walk_archive(Path(archive), key, part, None, expected_server, meter.add)
        server_name = manifest["server_name"]
        meter.set_phase("preparing the restored server")
        _mark_restored(part / b.DB_NAME, server_name, manifest.get("created_ms"))
        when = datetime.now().strftime("%Y%m%d-%H%M%S")
        plan = {"aside": f"{PREVIOUS_PREFIX}{when}", "server_name": server_name,
                "created_ms": manifest.get("created_ms"), "staged_ms": int(time.time() * 1000)}
        _write_synced(part / PLAN, json.dumps(plan).encode())
        b._fsync_dir(part)
        os.replace(part, final)
        b._fsync_dir(data_dir)
    except OSError as exc:
        shutil.rmtree(part, ignore_errors=True)
        from ..storage.disk import is_disk_full
        if is_disk_full(exc):
            raise b.BackupError("There is not enough free space to unpack the backup next to the current "
                                "data. Nothing was changed.") from exc
        raise b.BackupError(f"The restore failed: {exc}. Nothing was changed.") from exc
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    if progress:
        progress(1.0, "ready to restart")
    return {"server_name": server_name, "created_ms": manifest.get("created_ms"), "files": len(manifest["files"]),
            "row_counts": manifest.get("row_counts", {})}


def _mark_restored(db_path: Path, server_name: str, created_ms: int | None) -> None:
    """The staged database names its server and counts as set up (a headless server's backup
    may carry neither), so the restarted server runs under the backup's name, without the wizard."""
    written = database_files.write_settings(
        db_path,
        if_absent={"server_name": json.dumps(server_name), "setup.completed": "restored"},
        delete=("setup.code", "setup.progress", "setup.applying"),
        replace={RESTORED_MARK: json.dumps({"at_ms": int(time.time() * 1000), "backup_ms": created_ms})})
    if not written:
        raise b.DamagedArchive("The database in the backup has no settings table.")


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def apply_staged_restore(data_dir: Path) -> dict[str, Any] | None:
    """At start-up, before the database opens: swap a staged restore in. None if there is none."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return None
    shutil.rmtree(data_dir / STAGING, ignore_errors=True)  # staging that died half-way: never used
    cleanup_uploads(data_dir)  # no restore job outlives the process that took the upload
    staged = data_dir / STAGED
    if not staged.is_dir():
        return None
    if database_files.is_in_use(data_dir / b.DB_NAME):
        log.warning("a staged restore waits, but the database is in use: it is applied at the next start")
        return None
    try:
        plan = json.loads((staged / PLAN).read_text())
        aside = data_dir / plan["aside"]
        if not aside.name.startswith(PREVIOUS_PREFIX) or aside.parent != data_dir:
            raise ValueError(plan["aside"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.error("a staged restore is unreadable (%s): it is removed, the data stays as it was", exc)
        shutil.rmtree(staged, ignore_errors=True)
        return None
    if not (staged / MOVING_IN).exists():
        aside.mkdir(mode=0o700, exist_ok=True)
        for entry in sorted(data_dir.iterdir()):
            if not entry.name.startswith(".restore-"):
                os.replace(entry, aside / entry.name)
        b._fsync_dir(aside)
        b._fsync_dir(data_dir)
        _write_synced(staged / MOVING_IN, b"")
        b._fsync_dir(staged)
    for entry in sorted(staged.iterdir()):
        if entry.name not in (PLAN, MOVING_IN):
            os.replace(entry, data_dir / entry.name)
    b._fsync_dir(data_dir)
    shutil.rmtree(staged, ignore_errors=True)
    b._fsync_dir(data_dir)
    log.warning("restored the backup of %s; the data from before is kept in %s", plan.get("server_name"), aside)
    return {**plan, "previous": str(aside)}


def cleanup_uploads(data_dir: Path, older_than_s: float = 0) -> None:
    """Uploaded archives are only kept while a restore needs them."""
    cutoff = time.time() - older_than_s
    for p in Path(data_dir).glob(f"{UPLOAD_PREFIX}*"):
        try:
            if older_than_s <= 0 or p.stat().st_mtime < cutoff:
                p.unlink(missing_ok=True)
        except OSError:
            continue


def previous_data(data_dir: Path) -> list[dict[str, Any]]:
    """The folders of data set aside by restores: name, when, size."""
    out = []
    for p in sorted(Path(data_dir).glob(f"{PREVIOUS_PREFIX}*")):
        if not p.is_dir():
            continue
        size = 0
        for root, _, files in os.walk(p):
            for name in files:
                try:
                    size += os.lstat(os.path.join(root, name)).st_size
                except OSError:
                    pass
        out.append({"name": p.name, "mtime_ms": int(p.stat().st_mtime * 1000), "size": size})
    return out


def delete_previous(data_dir: Path, name: str) -> bool:
    if not name.startswith(PREVIOUS_PREFIX) or "/" in name or name in (".", ".."):
        return False
    p = Path(data_dir) / name
    if not p.is_dir():
        return False
    shutil.rmtree(p)
    return True
