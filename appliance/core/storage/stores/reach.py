"""ACME accounts and certificate attempts (`acme_accounts`, `acme_attempts`, migration 0270)."""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from ..database import Database


@dataclass(frozen=True, slots=True)
class AcmeAccount:
    directory_url: str
    key_pem: str
    kid: str | None


@dataclass(frozen=True, slots=True)
class AcmeAttempt:
    id: int
    started_ts: int
    finished_ts: int | None
    domain: str
    challenge: str
    reason: str
    ok: bool | None
    message: str


_ATTEMPT = "id, started_ts, finished_ts, domain, challenge, reason, ok, message"


def _attempt(r) -> AcmeAttempt:
    return AcmeAttempt(r[0], r[1], r[2], r[3], r[4], r[5], None if r[6] is None else bool(r[6]), r[7])


class ReachStore:
    def __init__(self, db: Database):
        self.db = db

    async def account(self, directory_url: str) -> AcmeAccount | None:
        r = await self.db.fetchone("SELECT directory_url, key_pem, kid FROM acme_accounts WHERE directory_url = ?",
                                   (directory_url,))
        return AcmeAccount(r[0], r[1], r[2]) if r is not None else None

    async def add_account_key(self, directory_url: str, key_pem: str) -> AcmeAccount:
        """Keep the first key made for this CA (two callers racing get the same one)."""
        def job(conn: sqlite3.Connection) -> AcmeAccount:
            conn.execute("INSERT OR IGNORE INTO acme_accounts (directory_url, key_pem, created_ts) VALUES (?, ?, ?)",
                         (directory_url, key_pem, int(time.time() * 1000)))
            r = conn.execute("SELECT directory_url, key_pem, kid FROM acme_accounts WHERE directory_url = ?",
                             (directory_url,)).fetchone()
            return AcmeAccount(r[0], r[1], r[2])

        return await self.db.write(job)

    async def set_kid(self, directory_url: str, kid: str) -> None:
        await self.db.write(lambda conn: conn.execute(
            "UPDATE acme_accounts SET kid = ? WHERE directory_url = ?", (kid, directory_url)))

    async def start_attempt(self, domain: str, challenge: str, reason: str) -> int:
        def job(conn: sqlite3.Connection) -> int:
            cur = conn.execute("INSERT INTO acme_attempts (started_ts, domain, challenge, reason) VALUES (?, ?, ?, ?)",
                               (int(time.time() * 1000), domain, challenge, reason))
            return int(cur.lastrowid)

        return await self.db.write(job)

    async def finish_attempt(self, attempt_id: int, ok: bool, message: str) -> None:
        await self.db.write(lambda conn: conn.execute(
            "UPDATE acme_attempts SET finished_ts = ?, ok = ?, message = ? WHERE id = ?",
            (int(time.time() * 1000), int(ok), message, attempt_id)))

    async def recent_attempts(self, limit: int) -> list[AcmeAttempt]:
        rows = await self.db.fetchall(f"SELECT {_ATTEMPT} FROM acme_attempts ORDER BY id DESC LIMIT ?", (limit,))
        return [_attempt(r) for r in rows]

    async def failures_in_a_row(self) -> int:
        """Failed attempts since the last success (for the backoff)."""
        rows = await self.db.fetchall("SELECT ok FROM acme_attempts WHERE ok IS NOT NULL ORDER BY id DESC LIMIT 20")
        n = 0
        for (ok,) in rows:
            if ok:
                break
            n += 1
        return n
