"""The outcome of every backup run (`backup_runs`, migration 0070), for the dashboard and the schedule."""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..database import Database


@dataclass(frozen=True, slots=True)
class BackupRun:
    kind: str                  # manual, scheduled
    started_ms: int
    finished_ms: int
    ok: bool
    path: str | None
    size: int | None
    error: str | None


_COLS = "kind, started_ms, finished_ms, ok, path, size, error"


class BackupRunStore:
    def __init__(self, db: Database):
        self.db = db

    async def add(self, run: BackupRun) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(f"INSERT INTO backup_runs ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (run.kind, run.started_ms, run.finished_ms, int(run.ok), run.path, run.size, run.error))

        await self.db.write(job)

    async def last(self, *, ok_only: bool = False) -> BackupRun | None:
        """The latest run (of any kind), or the latest that succeeded."""
        where = " WHERE ok = 1" if ok_only else ""
        r = await self.db.fetchone(f"SELECT {_COLS} FROM backup_runs{where} ORDER BY id DESC LIMIT 1")
        return BackupRun(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6]) if r is not None else None

    async def recent(self, limit: int) -> list[BackupRun]:
        """The latest runs, newest first."""
        rows = await self.db.fetchall(f"SELECT {_COLS} FROM backup_runs ORDER BY id DESC LIMIT ?", (limit,))
        return [BackupRun(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6]) for r in rows]

    async def last_finished_ms(self, kind: str, *, ok_only: bool = False) -> int | None:
        """When the latest run of `kind` (that succeeded, with ok_only) finished."""
        where = " AND ok = 1" if ok_only else ""
        return await self.db.fetchval(f"SELECT MAX(finished_ms) FROM backup_runs WHERE kind = ?{where}", (kind,))
