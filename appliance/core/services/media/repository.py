"""The content repository: uploads (direct and async), downloads and thumbnails of local media.

Spec: content-repo.yaml, authed-content-repo.yaml, content_repo.md.

An upload streams to a temp file while it is hashed and counted (never held in memory), is
fsynced, renamed to its SHA-256 name, and only then gets its row: a 200 means the bytes and the
row are on disk. The per-user quota is checked again under a lock just before the row is
written, so two parallel uploads cannot both slip under it.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from ...protocol.errors import (CannotOverwriteMedia, Forbidden, InvalidParam, LimitExceeded, MatrixError,
                                NotFound, NotYetUploaded, TooLarge, UserLimitExceeded)
from ...storage.stores.media import ContentFiles, MediaRecord, MediaStore
from . import thumbnails
from .serving import DEFAULT_TYPE, clean_content_type, valid_upload_name

MEDIA_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
UNUSED_EXPIRY_MS = 24 * 3600 * 1000           # spec: recommended 24 hours for created, unused IDs
MAX_PENDING_UPLOADS = 10                       # per user (spec: limit concurrent pending uploads)
MAX_WAIT_MS = 60_000                           # cap on a download's timeout_ms
DEFAULT_WAIT_MS = 20_000
MIB = 1024 * 1024


def format_mib(n: int) -> str:
    value = n / MIB
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


@dataclass(frozen=True, slots=True)
class Content:
    """What a download serves: a file with its type and the name it was uploaded with."""
    path: Path
    content_type: str
    upload_name: str | None
    size: int


@dataclass(frozen=True, slots=True)
class ThumbnailContent:
    path: Path
    content_type: str


@dataclass(frozen=True, slots=True)
class MediaLimits:
    max_upload_bytes: int
    quota_bytes: int          # 0 = no quota
    freeze_legacy: bool
    info_uri: str             # where a user reads about their quota (M_USER_LIMIT_EXCEEDED)


# (server name, media ID) -> (bytes, content type, upload name) of another server's media, or
# NotFound: federation's fetcher (services/federation/media.py), or one that always says NotFound.
RemoteFetch = Callable[[str, str], Awaitable[tuple[bytes, str | None, str | None]]]


async def no_remote_media(server_name: str, media_id: str) -> tuple[bytes, str | None, str | None]:
    raise NotFound("Remote media is not available on this server")


class MediaService:
    def __init__(self, store: MediaStore, files: ContentFiles, server_name: str,
                 limits: MediaLimits | Callable[[], MediaLimits], fetch_remote: RemoteFetch = no_remote_media):
        self.store = store
        self.files = files
        self.server_name = server_name
        self._limits = limits
        self._fetch_remote = fetch_remote
        self._remote_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._commit_lock = asyncio.Lock()                      # quota check + row insert
        # media ID -> (set when its bytes arrive, how many downloads wait for it)
        self._uploaded: dict[str, tuple[asyncio.Event, int]] = {}
        self._thumb_locks: dict[str, asyncio.Lock] = {}
        self._thumb_slots = asyncio.Semaphore(2)                # Pillow work at once (a Pi has few cores)

    @property
    def limits(self) -> MediaLimits:
        """Given a function (the server's: read from the settings), the limits in force now: a
        limit changed in the web pages or the setup wizard applies to the next upload."""
        return self._limits() if callable(self._limits) else self._limits

    @limits.setter
    def limits(self, value: MediaLimits | Callable[[], MediaLimits]) -> None:
        self._limits = value

    # -- upload -----------------------------------------------------------------------------------

    def config(self) -> dict:
        return {"m.upload.size": self.limits.max_upload_bytes}

    async def upload(self, user_id: str, body: AsyncIterator[bytes], content_type: str | None,
                     filename: str | None, declared_length: int | None) -> str:
        name = self._check_name(filename)
        await self._precheck(user_id, declared_length)
        tmp, sha, size = await self._receive(user_id, body)
        media_id = _new_media_id()
        async with self._commit_lock:
            try:
                await self._check_quota(user_id, size)
                await self._install(tmp, sha)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            await self.store.insert_uploaded(media_id, user_id, _now_ms(), sha, size,
                                             clean_content_type(content_type), name, self.limits.freeze_legacy)
        return f"mxc://{self.server_name}/{media_id}"

    async def create(self, user_id: str) -> dict:
        now = _now_ms()
        if await self.store.count_pending(user_id, now) >= MAX_PENDING_UPLOADS:
            raise LimitExceeded(60_000, f"Too many pending uploads (at most {MAX_PENDING_UPLOADS})")
        media_id = _new_media_id()
        expires = now + UNUSED_EXPIRY_MS
        await self.store.insert_pending(media_id, user_id, now, expires, self.limits.freeze_legacy)
        return {"content_uri": f"mxc://{self.server_name}/{media_id}", "unused_expires_at": expires}

    async def upload_to(self, user_id: str, server_name: str, media_id: str, body: AsyncIterator[bytes],
                        content_type: str | None, filename: str | None, declared_length: int | None) -> None:
        """PUT /upload/{serverName}/{mediaId}: the bytes for an ID made by create()."""
        record = await self._pending_for(user_id, server_name, media_id)
        name = self._check_name(filename)
        await self._precheck(user_id, declared_length)
        tmp, sha, size = await self._receive(user_id, body)
        async with self._commit_lock:
            try:
                record = await self._pending_for(user_id, server_name, media_id)
                await self._check_quota(user_id, size)
                await self._install(tmp, sha)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            if not await self.store.fill_pending(record.media_id, _now_ms(), sha, size,
                                                 clean_content_type(content_type), name):
                raise CannotOverwriteMedia("Media already uploaded")
        waiting = self._uploaded.pop(media_id, None)
        if waiting is not None:
            waiting[0].set()

    def _release_waiter(self, media_id: str, event: asyncio.Event) -> None:
        """A download stops waiting: the last one out drops the entry (IDs never filled leave
        nothing behind)."""
        current = self._uploaded.get(media_id)
        if current is None or current[0] is not event:
            return
        if current[1] <= 1:
            del self._uploaded[media_id]
        else:
            self._uploaded[media_id] = (event, current[1] - 1)

    async def _pending_for(self, user_id: str, server_name: str, media_id: str) -> MediaRecord:
        if server_name != self.server_name or not MEDIA_ID.match(media_id):
            raise NotFound("Unknown media ID")
        record = await self.store.get(media_id)
        if record is None:
            raise NotFound("Unknown media ID")
        if record.user_id != user_id:
            raise Forbidden("This media ID was created by another user")
        if record.uploaded:
            raise CannotOverwriteMedia("Media already uploaded")
        if record.unused_expires_at is not None and record.unused_expires_at <= _now_ms():
            raise NotFound("This media ID has expired; create a new one")
        return record

    @staticmethod
    def _check_name(filename: str | None) -> str | None:
        if filename is None or filename == "":
            return None
        if not valid_upload_name(filename):
            raise InvalidParam("filename must be 1-255 printable characters")
        return filename

    async def _precheck(self, user_id: str, declared_length: int | None) -> None:
        """Refuse before reading a byte when Content-Length already says no."""
        if declared_length is None:
            return
        self._check_size(declared_length)
        await self._check_quota(user_id, declared_length)

    def _check_size(self, size: int) -> None:
        limit = self.limits.max_upload_bytes
        if size > limit:
            raise TooLarge(f"File is larger than the upload limit of {format_mib(limit)} MiB")

    async def _check_quota(self, user_id: str, size: int) -> None:
        quota = self.limits.quota_bytes
        if quota <= 0:
            return
        used = await self.store.usage_bytes(user_id)
        if used + size > quota:
            raise UserLimitExceeded(
                f"Media quota exceeded: {format_mib(used)} MiB of your quota of {format_mib(quota)} MiB used, "
                f"and this file needs {format_mib(size)} MiB",
                info_uri=self.limits.info_uri, can_upgrade=False)

    async def _receive(self, user_id: str, body: AsyncIterator[bytes]) -> tuple[Path, str, int]:
        """Stream the body to a temp file; hash and count as it comes; fsync before returning."""
        tmp, f = self.files.new_temp()
        digest = hashlib.sha256()
        size = 0
        try:
            with f:
                async for chunk in body:
                    size += len(chunk)
                    self._check_size(size)
                    digest.update(chunk)
                    f.write(chunk)
                f.flush()
                await asyncio.to_thread(os.fsync, f.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, digest.hexdigest(), size

    async def _install(self, tmp: Path, sha: str) -> None:
        await asyncio.to_thread(self.files.install, tmp, self.files.content_path(sha))

    # -- download ---------------------------------------------------------------------------------

    async def content(self, server_name: str, media_id: str, *, authenticated: bool,
                      timeout_ms: int | None = None) -> Content:
        record = await self._uploaded_record(server_name, media_id, authenticated, timeout_ms)
        assert record.sha256 is not None and record.size is not None
        return Content(self.files.content_path(record.sha256), record.content_type or DEFAULT_TYPE,
                       record.upload_name, record.size)

    async def _uploaded_record(self, server_name: str, media_id: str, authenticated: bool,
                               timeout_ms: int | None) -> MediaRecord:
        if not MEDIA_ID.match(media_id):
            raise NotFound("Invalid media ID")
        if server_name != self.server_name:
            return await self._remote_record(server_name, media_id)
        record = await self.store.get(media_id)
        if record is None:
            raise NotFound("Media not found")
        if record.authenticated and not authenticated:
            # Spec: media uploaded after the freeze is served by /_matrix/client/v1/media only.
            raise NotFound("Media not found (use the authenticated /_matrix/client/v1/media endpoints)")
        if record.uploaded:
            return record
        now = _now_ms()
        if record.unused_expires_at is not None and record.unused_expires_at <= now:
            raise NotFound("Media not found")
        wait_ms = DEFAULT_WAIT_MS if timeout_ms is None else max(0, min(timeout_ms, MAX_WAIT_MS))
        event, waiters = self._uploaded.get(media_id, (asyncio.Event(), 0))
        self._uploaded[media_id] = (event, waiters + 1)
        try:
            # Registered before the re-read: an upload landing in between still wakes us.
            record = await self.store.get(media_id)
            if record is None or not record.uploaded:
                async with asyncio.timeout(wait_ms / 1000):
                    await event.wait()
        except TimeoutError:
            pass
        finally:
            self._release_waiter(media_id, event)
        record = await self.store.get(media_id)
        if record is None or not record.uploaded:
            raise NotYetUploaded("Content has not yet been uploaded")
        return record

    async def _remote_record(self, server_name: str, media_id: str) -> MediaRecord:
        """Another server's media: from our cache, else fetched once (one fetch at a time per
        item) and kept as a content-addressed file like our own."""
        key = (server_name, media_id)
        lock = self._remote_locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                record = await self.store.get_remote(server_name, media_id)
                if record is not None and record.sha256 and self.files.content_path(record.sha256).exists():
                    return record
                data, content_type, upload_name = await self._fetch_remote(server_name, media_id)
                self._check_size(len(data))
                sha = hashlib.sha256(data).hexdigest()
                await asyncio.to_thread(self.files.write_atomically, self.files.content_path(sha), data)
                await self.store.put_remote(server_name, media_id, sha, len(data), clean_content_type(content_type),
                                            upload_name if upload_name and valid_upload_name(upload_name) else None,
                                            _now_ms())
                record = await self.store.get_remote(server_name, media_id)
                assert record is not None
                return record
        finally:
            if not lock.locked() and self._remote_locks.get(key) is lock:
                del self._remote_locks[key]

    # -- thumbnails -------------------------------------------------------------------------------

    async def thumbnail(self, server_name: str, media_id: str, width: int, height: int, method: str,
                        animated: bool, *, authenticated: bool, timeout_ms: int | None = None) -> ThumbnailContent:
        if width < 1 or height < 1:
            raise InvalidParam("width and height must be positive integers")
        if method not in ("crop", "scale"):
            raise InvalidParam("method must be crop or scale")
        record = await self._uploaded_record(server_name, media_id, authenticated, timeout_ms)
        assert record.sha256 is not None
        source = self.files.content_path(record.sha256)
        content_type = record.content_type or DEFAULT_TYPE
        req = thumbnails.normalise(width, height, method, animated)
        key = f"{record.sha256}/{req.cache_name()}"
        lock = self._thumb_locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                cached = self._cached_thumbnail(record.sha256, req, source, content_type)
                if cached is not None:
                    return cached
                async with self._thumb_slots:
                    try:
                        thumb = await asyncio.to_thread(thumbnails.make_thumbnail, source, content_type, req)
                    except thumbnails.TooLargeToThumbnail as exc:
                        raise TooLarge(str(exc)) from None
                    except thumbnails.CannotThumbnail as exc:
                        raise MatrixError(str(exc), status=400, errcode="M_UNKNOWN") from None
                if thumb is None:   # the original is already small enough: remember that
                    marker = self.files.thumbnail_path(record.sha256, req.cache_name() + ".orig")
                    await asyncio.to_thread(self.files.write_atomically, marker, b"")
                    return ThumbnailContent(source, content_type)
                ext = thumb.content_type.rsplit("/", 1)[1]
                dest = self.files.thumbnail_path(record.sha256, f"{req.cache_name()}.{ext}")
                await asyncio.to_thread(self.files.write_atomically, dest, thumb.data)
                return ThumbnailContent(dest, thumb.content_type)
        finally:
            if not lock.locked() and self._thumb_locks.get(key) is lock:
                del self._thumb_locks[key]

    def _cached_thumbnail(self, sha: str, req: thumbnails.ThumbnailRequest, source: Path,
                          content_type: str) -> ThumbnailContent | None:
        for ext, ctype in (("jpeg", "image/jpeg"), ("png", "image/png"), ("webp", "image/webp")):
            path = self.files.thumbnail_path(sha, f"{req.cache_name()}.{ext}")
            if path.exists():
                return ThumbnailContent(path, ctype)
        if self.files.thumbnail_path(sha, req.cache_name() + ".orig").exists():
            return ThumbnailContent(source, content_type)
        return None

    # -- for other services (URL previews) --------------------------------------------------------

    async def store_fetched(self, data: bytes, content_type: str) -> tuple[str, Path]:
        """Keep bytes the server fetched itself (a preview's image) as media owned by no user."""
        self._check_size(len(data))
        sha = hashlib.sha256(data).hexdigest()
        media_id = _new_media_id()
        dest = self.files.content_path(sha)
        async with self._commit_lock:
            await asyncio.to_thread(self.files.write_atomically, dest, data)
            await self.store.insert_uploaded(media_id, "", _now_ms(), sha, len(data),
                                             clean_content_type(content_type), None, True)
        return f"mxc://{self.server_name}/{media_id}", dest


def _new_media_id() -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(24))


def _now_ms() -> int:
    return int(time.time() * 1000)
