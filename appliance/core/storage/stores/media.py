"""Media: metadata rows in SQLite (MediaStore) and content-addressed files on disk (ContentFiles).

Files live under `<data_dir>/media/content/ab/cd/<sha256>`; the same bytes uploaded twice are one
file with two rows. Thumbnails are cached beside them, keyed by the content hash, so they are
shared too. Every file is written to `tmp/`, fsynced, then renamed into place and the directory
fsynced: once a path exists under `content/` its bytes are on disk.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..database import Database


@dataclass(frozen=True, slots=True)
class MediaRecord:
    media_id: str
    user_id: str
    created_ts: int
    unused_expires_at: int | None
    sha256: str | None
    size: int | None
    content_type: str | None
    upload_name: str | None
    uploaded_ts: int | None
    authenticated: bool

    @property
    def uploaded(self) -> bool:
        return self.sha256 is not None


_COLS = ("media_id, user_id, created_ts, unused_expires_at, sha256, size, content_type, upload_name, "
         "uploaded_ts, authenticated")


def _record(row: sqlite3.Row) -> MediaRecord:
    return MediaRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], bool(row[9]))


class MediaStore:
    def __init__(self, db: Database):
        self.db = db

    async def get(self, media_id: str) -> MediaRecord | None:
        row = await self.db.fetchone(f"SELECT {_COLS} FROM media WHERE media_id = ?", (media_id,))
        return _record(row) if row else None

    async def uploads_of(self, user_id: str) -> list[MediaRecord]:
        """Every media ID the user created (uploaded or pending), oldest first."""
        rows = await self.db.fetchall(f"SELECT {_COLS} FROM media WHERE user_id = ? ORDER BY created_ts", (user_id,))
        return [_record(r) for r in rows]

    async def stored_totals(self) -> tuple[int, int]:
        """(count, bytes) of the media rows whose content is uploaded."""
        row = await self.db.fetchone("SELECT count(*), coalesce(sum(size), 0) FROM media WHERE sha256 IS NOT NULL")
        return row[0], row[1]

    async def usage_bytes(self, user_id: str) -> int:
        return await self.db.fetchval(
            "SELECT COALESCE(SUM(size), 0) FROM media WHERE user_id = ? AND sha256 IS NOT NULL", (user_id,))

    async def count_pending(self, user_id: str, now_ms: int) -> int:
        return await self.db.fetchval(
            "SELECT COUNT(*) FROM media WHERE user_id = ? AND sha256 IS NULL AND unused_expires_at > ?",
            (user_id, now_ms))

    async def get_remote(self, server_name: str, media_id: str) -> MediaRecord | None:
        """Another server's media fetched before (remote_media, migration 0251)."""
        row = await self.db.fetchone(
            "SELECT media_id, sha256, size, content_type, upload_name, fetched_ts FROM remote_media"
            " WHERE server_name = ? AND media_id = ?", (server_name, media_id))
        if row is None:
            return None
        return MediaRecord(row[0], "", row[5], None, row[1], row[2], row[3], row[4], row[5], True)

    async def put_remote(self, server_name: str, media_id: str, sha256: str, size: int, content_type: str | None,
                         upload_name: str | None, now_ms: int) -> None:
        await self.db.write(lambda conn: conn.execute(
            "INSERT OR REPLACE INTO remote_media (server_name, media_id, sha256, size, content_type, upload_name,"
            " fetched_ts) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (server_name, media_id, sha256, size, content_type, upload_name, now_ms)))

    async def is_referenced(self, sha256: str) -> bool:
        return await self.db.fetchval("SELECT 1 FROM media WHERE sha256 = ? LIMIT 1", (sha256,)) is not None

    async def insert_pending(self, media_id: str, user_id: str, now_ms: int, expires_at: int,
                             authenticated: bool) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM media WHERE sha256 IS NULL AND unused_expires_at <= ?", (now_ms,))
            conn.execute(
                "INSERT INTO media (media_id, user_id, created_ts, unused_expires_at, authenticated) "
                "VALUES (?, ?, ?, ?, ?)", (media_id, user_id, now_ms, expires_at, int(authenticated)))
        await self.db.write(job)

    async def insert_uploaded(self, media_id: str, user_id: str, now_ms: int, sha256: str, size: int,
                              content_type: str, upload_name: str | None, authenticated: bool) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO media (media_id, user_id, created_ts, sha256, size, content_type, upload_name, "
                "uploaded_ts, authenticated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (media_id, user_id, now_ms, sha256, size, content_type, upload_name, now_ms, int(authenticated)))
        await self.db.write(job)

    async def fill_pending(self, media_id: str, now_ms: int, sha256: str, size: int, content_type: str,
                           upload_name: str | None) -> bool:
        """Attach content to a created media ID; False if it already had content."""
        def job(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE media SET sha256 = ?, size = ?, content_type = ?, upload_name = ?, uploaded_ts = ?, "
                "unused_expires_at = NULL WHERE media_id = ? AND sha256 IS NULL",
                (sha256, size, content_type, upload_name, now_ms, media_id))
            return cur.rowcount == 1
        return await self.db.write(job)


class ContentFiles:
    """The bytes of media and their thumbnails, named by SHA-256, under one root directory."""

    def __init__(self, root: Path):
        self.root = root
        self.content_dir = root / "content"
        self.thumbnail_dir = root / "thumbnails"
        self.tmp_dir = root / "tmp"
        for d in (self.content_dir, self.thumbnail_dir, self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        # Leftovers of uploads interrupted by a crash or a restart.
        for leftover in self.tmp_dir.iterdir():
            leftover.unlink(missing_ok=True)

    def content_path(self, sha256: str) -> Path:
        return self.content_dir / sha256[:2] / sha256[2:4] / sha256

    def thumbnail_path(self, sha256: str, name: str) -> Path:
        return self.thumbnail_dir / sha256[:2] / sha256[2:4] / sha256 / name

    def new_temp(self) -> tuple[Path, BinaryIO]:
        path = self.tmp_dir / f"upload-{secrets.token_hex(8)}"
        return path, open(path, "xb")

    def install(self, tmp: Path, dest: Path) -> bool:
        """Move a fully written, fsynced temp file to `dest` durably; False if dest already existed
        (same content: the temp file is dropped). Blocking: call in a thread."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            tmp.unlink(missing_ok=True)
            return False
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
        return True

    def write_atomically(self, dest: Path, data: bytes) -> None:
        """Blocking: write bytes to `dest` via a fsynced temp file."""
        tmp, f = self.new_temp()
        with f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self.install(tmp, dest)

    def remove_content(self, sha256: str) -> None:
        """Drop a file no row points at any more, with its thumbnails."""
        self.content_path(sha256).unlink(missing_ok=True)
        thumbs = self.thumbnail_path(sha256, "x").parent
        if thumbs.is_dir():
            for p in thumbs.iterdir():
                p.unlink(missing_ok=True)
            thumbs.rmdir()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
