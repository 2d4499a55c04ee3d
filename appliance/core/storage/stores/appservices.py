"""Application services (migration 0185): their registrations, the queue of transactions to each,
and what the bridge doctor shows. The `*_job` functions run inside writer jobs."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from ..database import Database
from .accounts import now_ms


@dataclass(frozen=True, slots=True)
class QueuedTxn:
    txn_id: int
    body: dict[str, Any]
    events: int
    created_ts: int


@dataclass(frozen=True, slots=True)
class AppServiceStatus:
    last_txn_id: int
    last_success_ts: int | None
    last_error: str | None
    last_error_ts: int | None
    queued_txns: int
    queued_events: int


class AppServiceStore:
    def __init__(self, db: Database):
        self.db = db

    # -- registrations ----------------------------------------------------------------------

    async def registrations(self) -> list[dict[str, Any]]:
        rows = await self.db.fetchall("SELECT registration FROM appservices ORDER BY created_ts, id")
        return [json.loads(r[0]) for r in rows]

    async def install(self, appservice_id: str, registration: dict[str, Any]) -> None:
        """Store a registration (replacing one with the same id) and bump the generation."""
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO appservices (id, registration, created_ts) VALUES (?, ?, ?)"
                         " ON CONFLICT (id) DO UPDATE SET registration = excluded.registration",
                         (appservice_id, json.dumps(registration), now_ms()))
            conn.execute("UPDATE appservice_generation SET generation = generation + 1 WHERE id = 1")
        await self.db.write(job)

    async def remove(self, appservice_id: str) -> bool:
        """Forget a registration, its queue, status and stream position; False if unknown."""
        def job(conn: sqlite3.Connection) -> bool:
            gone = conn.execute("DELETE FROM appservices WHERE id = ?", (appservice_id,)).rowcount == 1
            conn.execute("DELETE FROM appservice_txns WHERE appservice_id = ?", (appservice_id,))
            conn.execute("DELETE FROM appservice_status WHERE appservice_id = ?", (appservice_id,))
            conn.execute("DELETE FROM stream_consumers WHERE name = ?", (consumer_name(appservice_id),))
            conn.execute("UPDATE appservice_generation SET generation = generation + 1 WHERE id = 1")
            return gone
        return await self.db.write(job)

    async def generation(self) -> tuple[int, int]:
        """(generation, loaded): a server whose loaded generation is behind reloads."""
        row = await self.db.fetchone("SELECT generation, loaded FROM appservice_generation WHERE id = 1")
        return (row[0], row[1]) if row else (0, 0)

    async def mark_loaded(self, generation: int) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE appservice_generation SET loaded = MAX(loaded, ?) WHERE id = 1", (generation,))
        await self.db.write(job)

    # -- the transaction queue --------------------------------------------------------------

    @staticmethod
    def enqueue_job(conn: sqlite3.Connection, appservice_id: str, body: dict[str, Any], events: int) -> int:
        """Queue a transaction under the next id (in the stream consumer's write); returns the id."""
        conn.execute("INSERT OR IGNORE INTO appservice_status (appservice_id) VALUES (?)", (appservice_id,))
        txn_id = conn.execute("UPDATE appservice_status SET last_txn_id = last_txn_id + 1 WHERE appservice_id = ?"
                              " RETURNING last_txn_id", (appservice_id,)).fetchone()[0]
        conn.execute("INSERT INTO appservice_txns (appservice_id, txn_id, body, events, created_ts)"
                     " VALUES (?, ?, ?, ?, ?)", (appservice_id, txn_id, json.dumps(body), events, now_ms()))
        return txn_id

    async def oldest_txn(self, appservice_id: str) -> QueuedTxn | None:
        row = await self.db.fetchone(
            "SELECT txn_id, body, events, created_ts FROM appservice_txns WHERE appservice_id = ?"
            " ORDER BY txn_id LIMIT 1", (appservice_id,))
        return QueuedTxn(row[0], json.loads(row[1]), row[2], row[3]) if row else None

    async def delivered(self, appservice_id: str, txn_id: int) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM appservice_txns WHERE appservice_id = ? AND txn_id = ?", (appservice_id, txn_id))
            conn.execute("INSERT OR IGNORE INTO appservice_status (appservice_id) VALUES (?)", (appservice_id,))
            conn.execute("UPDATE appservice_status SET last_success_ts = ? WHERE appservice_id = ?",
                         (now_ms(), appservice_id))
        await self.db.write(job)

    async def failed(self, appservice_id: str, error: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR IGNORE INTO appservice_status (appservice_id) VALUES (?)", (appservice_id,))
            conn.execute("UPDATE appservice_status SET last_error = ?, last_error_ts = ? WHERE appservice_id = ?",
                         (error[:500], now_ms(), appservice_id))
        await self.db.write(job)

    async def status(self, appservice_id: str) -> AppServiceStatus:
        row = await self.db.fetchone(
            "SELECT last_txn_id, last_success_ts, last_error, last_error_ts FROM appservice_status"
            " WHERE appservice_id = ?", (appservice_id,))
        queued = await self.db.fetchone(
            "SELECT COUNT(*), COALESCE(SUM(events), 0) FROM appservice_txns WHERE appservice_id = ?", (appservice_id,))
        last = row or (0, None, None, None)
        return AppServiceStatus(last[0], last[1], last[2], last[3], queued[0], queued[1])


def consumer_name(appservice_id: str) -> str:
    """The appservice's stream consumer (stream_consumers.name)."""
    return f"appservice:{appservice_id}"
