"""Backups and restore: one encrypted archive holding everything a Hearth server is.

An archive (`*.hearthbackup`) holds a consistent copy of the database taken while Hearth runs
(SQLite's online backup API, read inside one snapshot), every other file of the data directory
(the signing key, media, the scheduled-backup key), and `manifest.json`: the server name, the
non-secret effective settings, the stored settings' keys, each table's row count in the
snapshot, and each file's size and SHA-256.

File format (all integers big-endian):

    b"HEARTH-BACKUP\\n"  u32 header length  header JSON (plain: format, server_name, created_ms,
                                                        key_check, nonce_prefix, chunk_size)
    records: u32 length  AES-256-GCM(chunk)  nonce = prefix(7) | counter(4) | last(1),
                                             associated data = SHA-256(header)

The plain text is a tar stream cut into 1 MiB chunks, so neither writing nor reading needs
more memory than a chunk, whatever the size of the media. The last record is flagged: a
truncated file, a changed header, a swapped or altered record all fail authentication, and
are reported as a damaged archive. `key_check` (an HMAC of a fixed text under the key) tells
a wrong key apart from damage.

The key is 32 random bytes, shown to the operator as an "emergency kit" (base32 in groups).
`hearth backup` makes a fresh key for each archive unless told to use the stored key;
scheduled backups use one key kept in `data_dir/backup.key` (mode 0600), which
`hearth backup-key show` prints as a kit.

Every archive is verified after writing (decrypted again; the database copy opens, passes
`PRAGMA integrity_check`, and its row counts match the snapshot's; every file's hash matches)
and only then renamed from `.part` to its final name. Each run's outcome is recorded in
`backup_runs` for the dashboard.

Restore decrypts into a temporary directory next to the data directory, verifies the same
way, and only then swaps it in with a rename; any refusal (another server's archive, a wrong
key, a damaged file, a data directory that is not empty) leaves the current data untouched.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import logging
import os
import secrets
import shutil
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

from ..storage import database_files
from ..storage.private_files import open_private
from ..storage.stores.backup_runs import BackupRun, BackupRunStore

# tarfile and cryptography load on the first backup or restore, not when the server starts
# (about 4 MiB and 30 ms that most runs never use).

log = logging.getLogger(__name__)

MAGIC = b"HEARTH-BACKUP\n"
FORMAT = 1
CHUNK = 1 << 20
SUFFIX = ".hearthbackup"
KEY_FILE = "backup.key"
DB_NAME = "hearth.db"
MANIFEST = "manifest.json"
_KEY_CHECK_TEXT = b"hearth backup key check v1"
_MAX_HEADER = 64 * 1024
# Files of the data directory never copied as files: the database (copied through the backup
# API instead), its journals, and our own temporary directories.
_SKIP_NAMES = {DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", DB_NAME + "-journal"}
_TMP_PREFIX = ".backup-"
_SECRET_WORDS = ("secret", "password", "private", "token")

Progress = Callable[[float, str], None]


class BackupError(Exception):
    """A backup or restore that could not be done; the message is for the operator."""


class WrongKey(BackupError):
    pass


class DamagedArchive(BackupError):
    pass


class OtherServer(BackupError):
    pass


# -- keys ---------------------------------------------------------------------------------------

def new_key() -> bytes:
    return secrets.token_bytes(32)


def format_key(key: bytes) -> str:
    text = base64.b32encode(key).decode().rstrip("=")
    return "-".join(text[i:i + 4] for i in range(0, len(text), 4))


def parse_key(text: str) -> bytes:
    """The key as typed or copied from a kit: base32, any case, with or without dashes/spaces."""
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    try:
        key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (ValueError, base64.binascii.Error):
        raise WrongKey("That is not a backup key: a key is 52 letters and digits (A-Z, 2-7).") from None
    if len(key) != 32:
        raise WrongKey("That is not a backup key: a key is 52 letters and digits (A-Z, 2-7).")
    return key


def read_key_text(text: str) -> bytes:
    """A key, or an emergency kit's text (its `Key:` line)."""
    for line in text.splitlines():
        if line.strip().lower().startswith("key:"):
            return parse_key(line.split(":", 1)[1])
    return parse_key(text.strip())


def _key_check(key: bytes) -> str:
    return base64.b64encode(hmac.new(key, _KEY_CHECK_TEXT, hashlib.sha256).digest()[:16]).decode()


def emergency_kit(key: bytes, server_name: str, archive: str | None = None) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "HEARTH EMERGENCY KIT",
        "====================",
        "",
        f"Server: {server_name}",
        f"Made:   {when}",
    ]
    if archive:
        lines.append(f"Backup: {archive}")
    lines += [
        "",
        f"Key: {format_key(key)}",
        "",
        "This key is the only way to open the backup. Hearth does not keep a copy you can",
        "recover without it. Print this page or store it somewhere safe, away from the server.",
        "",
        "To restore onto a new card or computer, with Hearth stopped:",
        "    hearth restore BACKUP-FILE --key-file THIS-FILE",
        "",
    ]
    return "\n".join(lines)


def load_or_create_stored_key(data_dir: Path) -> bytes:
    """The key of scheduled backups: created once, kept in data_dir/backup.key (0600)."""
    path = Path(data_dir) / KEY_FILE
    if path.exists():
        return read_key_text(path.read_text())
    key = new_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(format_key(key) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return key


def stored_key(data_dir: Path) -> bytes | None:
    path = Path(data_dir) / KEY_FILE
    return read_key_text(path.read_text()) if path.exists() else None


# -- the encrypted stream --------------------------------------------------------------------------

class EncryptingWriter(io.RawIOBase):
    """A write-only file: plain bytes in, the archive format out (header written at once)."""

    def __init__(self, out: BinaryIO, key: bytes, header: dict[str, Any]):
        super().__init__()
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._out = out
        self._aes = AESGCM(key)
        self._prefix = secrets.token_bytes(7)
        header = {**header, "format": FORMAT, "chunk_size": CHUNK, "key_check": _key_check(key),
                  "nonce_prefix": base64.b64encode(self._prefix).decode()}
        raw = json.dumps(header, sort_keys=True).encode()
        self._aad = hashlib.sha256(raw).digest()
        out.write(MAGIC + struct.pack(">I", len(raw)) + raw)
        self._buf = bytearray()
        self._counter = 0
        self.plain_bytes = 0
        self._finished = False

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._buf += data
        self.plain_bytes += len(data)
        while len(self._buf) > CHUNK:  # keep at least one byte back: the last record is flagged
            self._emit(bytes(self._buf[:CHUNK]), last=False)
            del self._buf[:CHUNK]
        return len(data)

    def _emit(self, chunk: bytes, last: bool) -> None:
        nonce = self._prefix + struct.pack(">IB", self._counter, 1 if last else 0)
        sealed = self._aes.encrypt(nonce, chunk, self._aad)
        self._out.write(struct.pack(">I", len(sealed)) + sealed)
        self._counter += 1

    def finish(self) -> None:
        if not self._finished:
            self._emit(bytes(self._buf), last=True)
            self._buf.clear()
            self._finished = True

    def close(self) -> None:  # tarfile closes its file object; finishing is explicit
        super().close()


def read_header(f: BinaryIO) -> tuple[dict[str, Any], bytes]:
    magic = f.read(len(MAGIC))
    if magic != MAGIC:
        raise DamagedArchive("This file is not a Hearth backup (or its beginning is damaged).")
    raw_len = f.read(4)
    if len(raw_len) != 4:
        raise DamagedArchive("The backup file is damaged: it ends in its header.")
    (n,) = struct.unpack(">I", raw_len)
    if n > _MAX_HEADER:
        raise DamagedArchive("The backup file is damaged: its header is unreadable.")
    raw = f.read(n)
    try:
        header = json.loads(raw)
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError
        base64.b64decode(header["nonce_prefix"])
    except (ValueError, KeyError, TypeError):
        raise DamagedArchive("The backup file is damaged: its header is unreadable.") from None
    return header, raw


class DecryptingReader(io.RawIOBase):
    """A read-only file over an archive's records; raises DamagedArchive on any tampering."""

    def __init__(self, f: BinaryIO, key: bytes, header: dict[str, Any], raw_header: bytes):
        super().__init__()
        if not hmac.compare_digest(header.get("key_check", ""), _key_check(key)):
            raise WrongKey("Wrong key: this backup was encrypted with a different key. "
                           "Use the key from the emergency kit made with this backup.")
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._f = f
        self._aes = AESGCM(key)
        self._prefix = base64.b64decode(header["nonce_prefix"])
        self._aad = hashlib.sha256(raw_header).digest()
        self._counter = 0
        self._buf = b""
        self._pos = 0
        self._done = False
        self.cipher_bytes = 0

    def readable(self) -> bool:
        return True

    def _next_record(self) -> None:
        from cryptography.exceptions import InvalidTag

        raw_len = self._f.read(4)
        if len(raw_len) < 4:
            raise DamagedArchive("The backup file is damaged: it is cut short.")
        (n,) = struct.unpack(">I", raw_len)
        if n > CHUNK + 16:
            raise DamagedArchive("The backup file is damaged.")
        sealed = self._f.read(n)
        if len(sealed) != n:
            raise DamagedArchive("The backup file is damaged: it is cut short.")
        self.cipher_bytes += 4 + n
        for last in (0, 1):
            nonce = self._prefix + struct.pack(">IB", self._counter, last)
            try:
                plain = self._aes.decrypt(nonce, sealed, self._aad)
            except InvalidTag:
                continue
            self._counter += 1
            self._buf, self._pos = plain, 0
            if last:
                self._done = True
                if self._f.read(1):
                    raise DamagedArchive("The backup file is damaged: it has data after its end.")
            return
        raise DamagedArchive("The backup file is damaged: part of it does not match what was written.")

    def readinto(self, b) -> int:
        while self._pos >= len(self._buf):
            if self._done:
                return 0
            self._next_record()
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos:self._pos + n]
        self._pos += n
        return n

    def drain(self) -> None:
        """Read to the authenticated end (tar stops reading at its end-of-archive blocks)."""
        while not self._done:
            self._next_record()


# -- the database snapshot -----------------------------------------------------------------------

def snapshot_database(db_path: Path, dest: Path, progress: Callable[[int, int], None] | None = None
                      ) -> tuple[dict[str, int], dict[str, str]]:
    """Copy the live database to `dest` inside one read snapshot; returns (row counts, stored settings)."""
    if not db_path.exists():
        raise BackupError(f"There is no database at {db_path}: nothing to back up.")
    return database_files.copy_in_one_snapshot(db_path, dest, progress)


def check_database(path: Path, expected_counts: dict[str, int] | None) -> None:
    try:
        result, got = database_files.check_copy(path, count_rows=expected_counts is not None)
    except database_files.UnreadableDatabase as exc:
        raise DamagedArchive(f"The database in the backup cannot be opened: {exc}") from None
    if [r[0] for r in result] != ["ok"]:
        raise DamagedArchive(f"The database in the backup fails its integrity check: {result[:3]}")
    if expected_counts is not None and got != expected_counts:
        assert got is not None
        diff = sorted(t for t in set(got) | set(expected_counts) if got.get(t) != expected_counts.get(t))
        raise DamagedArchive(f"The database in the backup does not match its snapshot (tables {diff[:5]}).")


# -- writing ---------------------------------------------------------------------------------------

class _HashingReader:
    def __init__(self, f: BinaryIO, on_bytes: Callable[[int], None]):
        self._f = f
        self.sha = hashlib.sha256()
        self.size = 0
        self._on = on_bytes

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self.sha.update(data)
        self.size += len(data)
        self._on(len(data))
        return data


@dataclass
class BackupResult:
    path: Path
    size: int
    key: bytes
    server_name: str
    row_counts: dict[str, int]
    files: int


class _Meter:
    """Turns byte counts of the phases into one percentage for `progress`."""

    def __init__(self, total: int, progress: Progress | None):
        self.total = max(total, 1)
        self.done = 0
        self.progress = progress
        self.phase = ""
        self._last = -1.0

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        self._report(force=True)

    def add(self, n: int) -> None:
        self.done += n
        self._report()

    def _report(self, force: bool = False) -> None:
        frac = min(self.done / self.total, 0.99)
        if self.progress and (force or frac - self._last >= 0.05):
            self._last = frac
            self.progress(frac, self.phase)


def _data_files(data_dir: Path) -> list[Path]:
    out = []
    for root, dirs, files in os.walk(data_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith(_TMP_PREFIX) and not d.startswith(".restore-"))
        for name in sorted(files):
            p = Path(root) / name
            rel = p.relative_to(data_dir)
            if (str(rel) in _SKIP_NAMES or name.startswith(_TMP_PREFIX) or name.endswith(".tmp")
                    or rel.parts[:2] == ("media", "tmp")):  # uploads still arriving
                continue
            if p.is_file() and not p.is_symlink():
                out.append(p)
    return out


def public_settings(settings) -> dict[str, Any]:
    values = settings.model_dump(mode="json")
    return {k: v for k, v in values.items() if not any(w in k.lower() for w in _SECRET_WORDS)}


def _archive_prefix(server_name: str, kind: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in server_name)
    return f"hearth-{safe}-" + ("scheduled-" if kind == "scheduled" else "")


def archive_name(server_name: str, when: float | None = None, kind: str = "manual") -> str:
    """hearth-<server>-[scheduled-]<UTC yyyymmdd-hhmmss-mmm>.hearthbackup: names sort in time order.

    Only scheduled archives are pruned (keep the last N); manual ones are the operator's."""
    when = time.time() if when is None else when
    ts = datetime.fromtimestamp(when, timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{_archive_prefix(server_name, kind)}{ts}-{int(when * 1000) % 1000:03d}{SUFFIX}"


def create_backup(settings, dest_dir: Path, key: bytes, progress: Progress | None = None,
                  name: str | None = None) -> BackupResult:
    """Write, verify and publish one archive of `settings.data_dir` into dest_dir (blocking)."""
    import tarfile

    data_dir = Path(settings.data_dir)
    dest_dir = Path(dest_dir)
    if not dest_dir.is_dir():
        raise BackupError(f"The backup folder {dest_dir} does not exist or is not a folder "
                          "(is the USB drive or network share mounted?).")
    created = time.time()
    final = dest_dir / (name or archive_name(settings.server_name, created))
    part = final.with_name(final.name + ".part")
    work = data_dir / f"{_TMP_PREFIX}{secrets.token_hex(4)}"
    files = _data_files(data_dir)
    db_path = Path(settings.database_path)
    db_size = db_path.stat().st_size if db_path.exists() else 0
    file_bytes = sum(f.stat().st_size for f in files)
    meter = _Meter(3 * db_size + 2 * file_bytes, progress)
    try:
        work.mkdir(mode=0o700)
        snap = work / DB_NAME
        meter.set_phase("copying the database")
        copied = [0]

        def db_progress(done_pages: int, total_pages: int) -> None:
            now = db_size * done_pages // max(total_pages, 1)
            meter.add(now - copied[0])
            copied[0] = now
        counts, stored = snapshot_database(db_path, snap, db_progress)
        meter.set_phase("writing the encrypted archive")
        manifest_files: dict[str, dict[str, Any]] = {}
        header = {"server_name": settings.server_name, "created_ms": int(created * 1000)}
        with open_private(part) as out:
            enc = EncryptingWriter(out, key, header)
            with tarfile.open(fileobj=enc, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for path, arcname in [(snap, DB_NAME)] + [(f, str(f.relative_to(data_dir))) for f in files]:
                    try:
                        with open(path, "rb") as fh:
                            st = os.fstat(fh.fileno())
                            info = tarfile.TarInfo(arcname)
                            info.size = st.st_size
                            info.mode = st.st_mode & 0o777
                            info.mtime = int(st.st_mtime)
                            reader = _HashingReader(fh, meter.add)
                            tar.addfile(info, reader)
                    except FileNotFoundError:  # a file removed while we ran (a deleted media item)
                        continue
                    manifest_files[arcname] = {"size": reader.size, "sha256": reader.sha.hexdigest()}
                manifest = {
                    "format": FORMAT,
                    "server_name": settings.server_name,
                    "created_ms": header["created_ms"],
                    "settings": public_settings(settings),
                    "stored_settings_keys": sorted(stored),
                    "row_counts": counts,
                    "files": manifest_files,
                }
                raw = json.dumps(manifest, indent=1, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(raw)
                info.mtime = int(created)
                tar.addfile(info, io.BytesIO(raw))
            enc.finish()
            out.flush()
            os.fsync(out.fileno())
        meter.set_phase("verifying the archive")
        verify_archive(part, key, work, on_bytes=meter.add, expected_server=settings.server_name)
        os.replace(part, final)
        _fsync_dir(dest_dir)
        if progress:
            progress(1.0, "done")
        return BackupResult(final, final.stat().st_size, key, settings.server_name, counts, len(manifest_files))
    except OSError as exc:
        from ..storage.disk import is_disk_full
        if is_disk_full(exc):
            raise BackupError(f"The backup failed: no space left ({exc.filename or dest_dir}).") from exc
        raise BackupError(f"The backup failed: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if part.exists():
            part.unlink()


# -- reading / verifying / restoring --------------------------------------------------------------

def _other_server(theirs: Any, ours: str) -> str:
    return (f"This backup is of the server {theirs!r}, not {ours!r}: user IDs and room IDs contain "
            "the server name, so a backup cannot become another server.")


def _open_archive(path: Path, key: bytes, expected_server: str | None) -> tuple[BinaryIO, DecryptingReader, dict]:
    f = open(path, "rb")
    try:
        header, raw = read_header(f)
        if expected_server is not None and header.get("server_name") != expected_server:
            raise OtherServer(_other_server(header.get("server_name"), expected_server))
        return f, DecryptingReader(f, key, header, raw), header
    except BaseException:
        f.close()
        raise


def _walk_archive(path: Path, key: bytes, into: Path | None, db_dest: Path | None,
                  expected_server: str | None, on_bytes: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Decrypt and read every member; write files under `into` (or only the DB to db_dest).

    Returns the manifest after checking every file against it and the database copy."""
    import tarfile

    f, reader, header = _open_archive(path, key, expected_server)
    seen: dict[str, dict[str, Any]] = {}
    manifest: dict[str, Any] | None = None
    last = [0]

    def count() -> None:
        if on_bytes:
            on_bytes(reader.cipher_bytes - last[0])
            last[0] = reader.cipher_bytes
    try:
        buffered = io.BufferedReader(reader, CHUNK)
        try:
            tar = tarfile.open(fileobj=buffered, mode="r|")
            for member in tar:
                name = member.name
                parts = Path(name).parts
                if (not member.isfile() or Path(name).is_absolute() or ".." in parts or not parts):
                    raise DamagedArchive(f"The backup holds an unexpected entry {name!r}.")
                src = tar.extractfile(member)
                assert src is not None
                if name == MANIFEST:
                    manifest = json.loads(src.read())
                    continue
                sha = hashlib.sha256()
                size = 0
                target = None
                if into is not None:
                    target = into / name
                elif name == DB_NAME and db_dest is not None:
                    target = db_dest
                out = None
                if target is not None:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    out = open(target, "wb")
                    os.chmod(target, (member.mode & 0o777) | 0o600)
                try:
                    while chunk := src.read(CHUNK):
                        sha.update(chunk)
                        size += len(chunk)
                        if out is not None:
                            out.write(chunk)
                        count()
                    if out is not None:
                        out.flush()
                        os.fsync(out.fileno())
                finally:
                    if out is not None:
                        out.close()
                seen[name] = {"size": size, "sha256": sha.hexdigest()}
            tar.close()
            reader.drain()
            count()
        except tarfile.TarError as exc:
            raise DamagedArchive(f"The backup file is damaged: {exc}") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise DamagedArchive("The backup file is damaged: its manifest is unreadable.") from None
    finally:
        f.close()
    if manifest is None or not isinstance(manifest, dict):
        raise DamagedArchive("The backup file is incomplete: it has no manifest.")
    if manifest.get("server_name") != header.get("server_name"):
        raise DamagedArchive("The backup file is inconsistent: its header and manifest name different servers.")
    if seen != manifest.get("files"):
        raise DamagedArchive("The backup's files do not match its manifest.")
    if DB_NAME not in seen:
        raise DamagedArchive("The backup holds no database.")
    db_file = (into / DB_NAME) if into is not None else db_dest
    if db_file is not None:
        check_database(db_file, manifest.get("row_counts"))
    return manifest


def verify_archive(path: Path, key: bytes, scratch: Path, on_bytes: Callable[[int], None] | None = None,
                   expected_server: str | None = None) -> dict[str, Any]:
    """Decrypt the whole archive, check every file's hash and the database copy (in `scratch`)."""
    db_copy = scratch / f"verify-{secrets.token_hex(4)}.db"
    try:
        return _walk_archive(path, key, None, db_copy, expected_server, on_bytes)
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(db_copy) + suffix).unlink(missing_ok=True)


def archive_info(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        header, _ = read_header(f)
    return header


def restore_backup(settings, archive: Path, key: bytes, force: bool = False, check_server_name: bool = True,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Restore `archive` as settings.data_dir. Returns a summary; raises BackupError (data untouched)."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"There is no backup file at {archive}.")
    data_dir = Path(settings.data_dir).absolute()
    expected = settings.server_name if check_server_name else None
    header = archive_info(archive)  # a damaged header or another server: refuse before anything else
    if expected is not None and header.get("server_name") != expected:
        raise OtherServer(_other_server(header.get("server_name"), expected))
    if database_files.is_in_use(data_dir / DB_NAME):
        raise BackupError(f"Hearth is running on {data_dir}: stop it before restoring (nothing was changed).")
    if data_dir.exists() and any(data_dir.iterdir()) and not force:
        raise BackupError(
            f"The data directory {data_dir} is not empty. Restore into an empty directory, or pass --force "
            "to set the current data aside (it is kept next to it, not deleted).")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    for stale in data_dir.parent.glob(f".restore-{data_dir.name}-*"):  # left by a restore that crashed
        shutil.rmtree(stale, ignore_errors=True)
    staging = data_dir.parent / f".restore-{data_dir.name}-{secrets.token_hex(4)}"
    total = archive.stat().st_size
    meter = _Meter(total, progress)
    meter.set_phase("decrypting and checking the backup")
    try:
        staging.mkdir(mode=0o700)
        manifest = _walk_archive(archive, key, staging, None, expected, meter.add)
        _fsync_dir(staging)
        moved_aside = None
        if data_dir.exists():
            if any(data_dir.iterdir()):
                moved_aside = data_dir.with_name(
                    f"{data_dir.name}.before-restore-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
                os.replace(data_dir, moved_aside)
            else:
                data_dir.rmdir()
        os.replace(staging, data_dir)
        os.chmod(data_dir, 0o700)
        _fsync_dir(data_dir.parent)
    except OSError as exc:
        raise BackupError(f"The restore failed: {exc}") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    if progress:
        progress(1.0, "done")
    return {"server_name": manifest["server_name"], "created_ms": manifest.get("created_ms"),
            "files": len(manifest["files"]), "moved_aside": str(moved_aside) if moved_aside else None,
            "row_counts": manifest.get("row_counts", {})}


def cleanup_stale_work(data_dir: Path, older_than_s: float = 6 * 3600) -> list[Path]:
    """Remove temporary database copies of backups that died (a crash, kill -9) long ago."""
    removed = []
    cutoff = time.time() - older_than_s
    for p in Path(data_dir).glob(f"{_TMP_PREFIX}*"):
        try:
            if p.stat().st_mtime < cutoff:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                removed.append(p)
        except OSError:
            continue
    return removed


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- the service: runs, status, schedule -----------------------------------------------------------

def prune(dest_dir: Path, keep: int, server_name: str) -> list[Path]:
    """Delete the oldest scheduled archives of this server beyond `keep`; returns those deleted."""
    keep = max(keep, 1)
    prefix = _archive_prefix(server_name, "scheduled")
    ours = sorted(p for p in Path(dest_dir).glob(f"{prefix}*{SUFFIX}") if p.is_file())
    doomed = ours[:-keep] if keep > 0 else []
    for p in doomed:
        p.unlink(missing_ok=True)
    for stale in Path(dest_dir).glob(f"{prefix}*{SUFFIX}.part"):
        stale.unlink(missing_ok=True)
    return doomed


class BackupService:
    """Runs backups inside the server (scheduled) and records every outcome for the dashboard."""

    RETRY_SECONDS = 15 * 60

    def __init__(self, runs: BackupRunStore, settings):
        self.runs = runs
        self.settings = settings
        self.running = False
        self.last_result: dict[str, Any] | None = None  # also kept in memory: a full disk cannot record it
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def record(self, kind: str, started_ms: int, ok: bool, path: str | None, size: int | None,
                     error: str | None) -> None:
        finished = int(time.time() * 1000)
        self.last_result = {"kind": kind, "started_ms": started_ms, "finished_ms": finished, "ok": ok,
                            "path": path, "size": size, "error": error}
        try:
            await self.runs.add(BackupRun(kind, started_ms, finished, ok, path, size, error))
        except Exception:
            log.exception("could not record the backup's outcome")

    async def recent_runs(self, limit: int = 25) -> list[BackupRun]:
        """The latest runs, newest first (the Backups page's list)."""
        return await self.runs.recent(limit)

    async def status(self) -> dict[str, Any]:
        """Last run and last success, for the dashboard: a failed backup shows here."""
        def row(r: BackupRun | None) -> dict[str, Any] | None:
            if r is None:
                return None
            return {"kind": r.kind, "started_ms": r.started_ms, "finished_ms": r.finished_ms,
                    "ok": r.ok, "path": r.path, "size": r.size, "error": r.error}
        last = row(await self.runs.last())
        last_ok = row(await self.runs.last(ok_only=True))
        if self.last_result and (last is None or self.last_result["finished_ms"] > last["finished_ms"]):
            last = self.last_result
        return {
            "scheduled": self.settings.backup_dir is not None,
            "backup_dir": str(self.settings.backup_dir) if self.settings.backup_dir else None,
            "interval_hours": self.settings.backup_interval_hours,
            "keep": self.settings.backup_keep,
            "running": self.running,
            "last": last,
            "last_ok": last_ok,
            "failing": bool(last and not last["ok"]),
        }

    async def run(self, kind: str, dest_dir: Path, key: bytes, progress: Progress | None = None
                  ) -> BackupResult:
        async with self._lock:
            started = int(time.time() * 1000)
            self.running = True
            try:
                name = archive_name(self.settings.server_name, kind=kind)
                result = await asyncio.to_thread(create_backup, self.settings, dest_dir, key, progress, name)
            except Exception as exc:
                msg = str(exc) if isinstance(exc, BackupError) else f"{type(exc).__name__}: {exc}"
                log.error("backup failed: %s", msg)
                await self.record(kind, started, False, None, None, msg)
                raise
            finally:
                self.running = False
            await self.record(kind, started, True, str(result.path), result.size, None)
            return result

    async def run_scheduled(self) -> BackupResult:
        dest = Path(self.settings.backup_dir)
        await asyncio.to_thread(cleanup_stale_work, Path(self.settings.data_dir))
        key = await asyncio.to_thread(load_or_create_stored_key, self.settings.data_dir)
        result = await self.run("scheduled", dest, key)
        await asyncio.to_thread(prune, dest, self.settings.backup_keep, self.settings.server_name)
        return result

    # -- schedule ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the scheduled backups (the server calls this; CLI commands do not).

        Also removes what a backup interrupted by a crash left in the data directory."""
        cleanup_stale_work(Path(self.settings.data_dir))
        if self.settings.backup_dir is not None and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="scheduled-backups")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _next_delay(self) -> float:
        interval = max(self.settings.backup_interval_hours * 3600, 1.0)
        last_ok = await self.runs.last_finished_ms("scheduled", ok_only=True)
        last_any = await self.runs.last_finished_ms("scheduled")
        if self.last_result and self.last_result["kind"] == "scheduled":
            last_any = max(last_any or 0, self.last_result["finished_ms"])
        now = time.time()
        due = (last_ok or 0) / 1000 + interval
        if last_any and last_any != last_ok:  # the last attempt failed: retry, not at once
            due = max(due, last_any / 1000 + min(interval, self.RETRY_SECONDS))
        return max(due - now, 0.0)

    async def _loop(self) -> None:
        while True:
            try:
                delay = await self._next_delay()
                await asyncio.sleep(min(delay, 3600))
                if delay > 3600:
                    continue
                await self.run_scheduled()
            except asyncio.CancelledError:
                raise
            except Exception:  # recorded by run(); try again later
                await asyncio.sleep(1)
