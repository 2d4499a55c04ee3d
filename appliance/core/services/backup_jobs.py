"""Backups and restores started from the web pages: run in the background, progress for polling.

One job at a time (a backup or a restore); each job keeps its state in memory for the page that
polls it (`Job.public()` is what the JSON status endpoint returns: never the key). A backup's
key is handed out once: `take_key()` returns it to the page that shows the emergency kit and
forgets it.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import backup as b
from . import restore_staging as rs

log = logging.getLogger(__name__)

DOWNLOADS = ".backup-downloads"   # a backup made without a backup folder waits here for its download


def downloads_dir(data_dir: Path) -> Path:
    """Inside the data directory but never in a backup (`.backup-*`); cleared after some hours."""
    return Path(data_dir) / DOWNLOADS


@dataclass
class Job:
    id: str
    kind: str                       # "backup" | "restore"
    state: str = "running"          # running | done | failed | restarting | staged
    progress: float = 0.0
    phase: str = "starting"
    error: str | None = None
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    finished_ms: int | None = None
    archive: Path | None = None     # a backup's archive
    size: int | None = None
    server_name: str | None = None
    summary: dict[str, Any] | None = None
    _key: bytes | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"

    def on_progress(self, frac: float, phase: str) -> None:  # called from the worker thread
        self.progress = max(0.0, min(frac, 1.0))
        self.phase = phase

    def take_key(self) -> bytes | None:
        """The backup's key, once: the emergency kit is shown on one page and then forgotten."""
        key, self._key = self._key, None
        return key

    @property
    def key_available(self) -> bool:
        return self._key is not None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "state": self.state, "progress": round(self.progress, 3),
                "percent": int(self.progress * 100), "phase": self.phase, "error": self.error,
                "started_ms": self.started_ms, "finished_ms": self.finished_ms,
                "archive": self.archive.name if self.archive else None, "size": self.size}


class BackupJobs:
    KEEP_JOBS = 20

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self._tasks: set[asyncio.Task] = set()

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def active(self) -> Job | None:
        return next((j for j in self.jobs.values() if j.state in ("running", "restarting")), None)

    def _new(self, kind: str) -> Job:
        busy = self.active()
        if busy is not None:
            raise b.BackupError("A backup is running already." if busy.kind == "backup"
                                else "A restore is under way.")
        job = Job(secrets.token_urlsafe(12), kind)
        self.jobs[job.id] = job
        for old in list(self.jobs)[:-self.KEEP_JOBS]:
            if not self.jobs[old].running:
                del self.jobs[old]
        return job

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start_backup(self, backups: b.BackupService, settings) -> Job:
        """A backup with a fresh key, into the backup folder (or the downloads folder)."""
        job = self._new("backup")
        dest = Path(settings.backup_dir) if settings.backup_dir else downloads_dir(settings.data_dir)
        job._key = b.new_key()
        job.server_name = settings.server_name

        async def go() -> None:
            try:
                if not settings.backup_dir:
                    dest.mkdir(mode=0o700, exist_ok=True)
                result = await backups.run("manual", dest, job._key, job.on_progress)
            except Exception as exc:
                job._key = None
                job.error = str(exc) if isinstance(exc, b.BackupError) else f"The backup failed: {exc}"
                job.state = "failed"
            else:
                job.archive, job.size = result.path, result.size
                job.progress, job.phase, job.state = 1.0, "done", "done"
            finally:
                job.finished_ms = int(time.time() * 1000)
        self._spawn(go())
        return job

    def start_restore(self, data_dir: Path, upload: Path, key: bytes, expected_server: str | None,
                      restart: Callable[[], None] | None) -> Job:
        """Verify and stage `upload`, then `restart()` (the server comes back on the restored data)."""
        job = self._new("restore")

        async def go() -> None:
            try:
                job.summary = await asyncio.to_thread(rs.stage_restore, data_dir, upload, key, expected_server,
                                                      job.on_progress)
                job.server_name = job.summary["server_name"]
            except Exception as exc:
                job.error = str(exc) if isinstance(exc, b.BackupError) else f"The restore failed: {exc}"
                job.state = "failed"
                log.warning("restore refused: %s", job.error)
            else:
                job.progress = 1.0
                if restart is not None:
                    job.state, job.phase = "restarting", "restarting Hearth"
                    log.warning("a restore of %s is staged: restarting into it", job.server_name)
                    asyncio.get_running_loop().call_later(1.0, restart)  # let the page see it first
                else:
                    job.state, job.phase = "staged", "ready: restart Hearth to finish"
            finally:
                job.finished_ms = int(time.time() * 1000)
                upload.unlink(missing_ok=True)
        self._spawn(go())
        return job
