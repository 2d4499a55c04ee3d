"""The server's signing key: generated on first start, kept in the data directory."""
from __future__ import annotations

import os
from pathlib import Path

from ..protocol.signing import SigningKey


def load_or_create_signing_key(path: Path) -> SigningKey:
    if path.exists():
        return SigningKey.from_line(path.read_text().strip())
    key = SigningKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.to_line() + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return key
