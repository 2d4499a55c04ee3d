"""The data directory and what is in it are the owner's alone: directories 0700, files 0600.

The database holds password hashes, tokens and every message; the signing key is the server's
identity; backups hold all of it. None of it is for the other users of the machine.
`secure_data_dir()` runs at every start: it makes the directory 0700 (or tightens an existing
one) and takes the group and other bits off the files directly in it. Everything below is
then out of reach of other users whatever its own mode. SQLite gives the WAL and shared-memory
files the mode of the database file, so the database is created 0600 before SQLite opens it.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def secure_data_dir(path: Path) -> None:
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    for entry in os.scandir(path):
        if entry.is_file(follow_symlinks=False):
            mode = stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)
            if mode & 0o077:
                os.chmod(entry.path, mode & ~0o077)


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists (then it is left alone)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass


def open_private(path: Path, mode: str = "wb"):
    """open() for writing a new file with mode 0600 (not the umask's 0644)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, FILE_MODE)
    os.chmod(path, FILE_MODE)  # an older file of that name may have had other bits
    return os.fdopen(fd, mode)
