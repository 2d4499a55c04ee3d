"""A full disk: recognising it, telling the client, remembering it for the dashboard.

SQLite reports a full disk as `sqlite3.OperationalError("database or disk is full")`
(SQLITE_FULL) and the file system as `OSError(ENOSPC)` (or EDQUOT). Either becomes
`DiskFull`, a 403 `M_RESOURCE_LIMIT_EXCEEDED` (the spec's code for "the homeserver has
reached a resource limit"; it carries the required `admin_contact`). The writer rolls the
batch back and keeps running, so writing resumes by itself once space is freed.

`StorageHealth` holds the `disk_full` flag with the time it was raised; it lives in memory
(a full disk cannot record its own fullness) and is cleared by the next successful commit.

`check_free_space` is the start-up guard: with less than `min_free_bytes` free in the data
directory there is no room for the write-ahead log, and Hearth refuses to start.
"""
from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..protocol.errors import ResourceLimitExceeded

DISK_FULL_MESSAGE = ("The server's disk is full: nothing new can be saved until space is freed. "
                     "Everything already stored is safe and can still be read.")
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_SQLITE_FULL = 13


class DiskFull(ResourceLimitExceeded):
    """A write refused because the disk is full (403 M_RESOURCE_LIMIT_EXCEEDED)."""

    def __init__(self, admin_contact: str, error: str = DISK_FULL_MESSAGE):
        super().__init__(error, admin_contact=admin_contact)


def is_disk_full(exc: BaseException | None) -> bool:
    """Is this exception (or one it was raised from) the disk being full?"""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, DiskFull):
            return True
        if isinstance(exc, sqlite3.Error):
            code = getattr(exc, "sqlite_errorcode", None)
            if code is not None and code & 0xFF == _SQLITE_FULL:
                return True
            if "database or disk is full" in str(exc):
                return True
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


@dataclass
class StorageHealth:
    """What the admin dashboard shows about storage. Event loop and writer thread both set it."""

    disk_full: bool = False
    disk_full_since_ms: int | None = None   # when the current full-disk spell began
    last_disk_full_ms: int | None = None    # the latest refused write
    recovered_ms: int | None = None         # when writing last resumed after a full disk
    refused_writes: int = 0
    admin_contact: str = ""

    def mark_full(self) -> None:
        now = int(time.time() * 1000)
        if not self.disk_full:
            self.disk_full = True
            self.disk_full_since_ms = now
        self.last_disk_full_ms = now
        self.refused_writes += 1

    def mark_ok(self) -> None:
        if self.disk_full:
            self.disk_full = False
            self.recovered_ms = int(time.time() * 1000)

    def error(self) -> DiskFull:
        return DiskFull(self.admin_contact)

    def as_dict(self) -> dict[str, Any]:
        return {
            "disk_full": self.disk_full,
            "disk_full_since_ms": self.disk_full_since_ms,
            "last_disk_full_ms": self.last_disk_full_ms,
            "recovered_ms": self.recovered_ms,
            "refused_writes": self.refused_writes,
        }


def free_bytes(path: Path) -> int:
    """Free bytes usable by this process on the file system holding `path` (or its nearest parent)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    st = os.statvfs(p)
    return st.f_bavail * st.f_frsize


class NoRoomToStart(SystemExit):
    pass


def check_free_space(data_dir: Path, min_free_bytes: int) -> None:
    """Raise NoRoomToStart (a SystemExit carrying a clear message) when data_dir is nearly full."""
    free = free_bytes(data_dir)
    if free < min_free_bytes:
        raise NoRoomToStart(
            f"Hearth cannot start: the disk holding {Path(data_dir).absolute()} has only "
            f"{_human(free)} free, and at least {_human(min_free_bytes)} are needed for the database's "
            "write-ahead log. Free some space (or move the data directory to a larger disk) and start again.")


def _human(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def disk_usage(path: Path) -> dict[str, int]:
    u = shutil.disk_usage(path)
    return {"total": u.total, "used": u.used, "free": u.free}
