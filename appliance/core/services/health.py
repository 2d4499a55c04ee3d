"""What the admin dashboard shows about the server's storage and backups.

`report()` gathers the in-memory `disk_full` flag (with its timestamps: a full disk cannot
record its own fullness in the database), the free space of the data directory, and the
backup status (last run, last success, failing) recorded by the backup service.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..storage.disk import StorageHealth, disk_usage
from .backup import BackupService


class HealthService:
    def __init__(self, storage: StorageHealth, data_dir: Path, min_free_bytes: int, backups: BackupService):
        self.storage = storage
        self.data_dir = Path(data_dir)
        self.min_free_bytes = min_free_bytes
        self.backups = backups

    @property
    def disk_full(self) -> bool:
        return self.storage.disk_full

    async def report(self) -> dict[str, Any]:
        try:
            usage = disk_usage(self.data_dir)
        except OSError:
            usage = None
        warnings = []
        if self.storage.disk_full:
            warnings.append("The disk is full: new messages and uploads are refused until space is freed.")
        elif usage is not None and usage["free"] < 4 * self.min_free_bytes:
            warnings.append("The disk is almost full.")
        backup = await self.backups.status()
        if backup and backup.get("failing"):
            warnings.append(f"The last backup failed: {backup['last']['error']}")
        return {"storage": {**self.storage.as_dict(), "disk": usage}, "backup": backup, "warnings": warnings}
