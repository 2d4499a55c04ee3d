"""The stream's high-water mark (`stream_position`, one row): the last position handed out.

Run inside writer jobs (and once at start-up, before the writer takes jobs), so plain functions
of a connection rather than a store object.
"""
from __future__ import annotations

import sqlite3

# Tables whose rows carry a stream position: a position found there counts as handed out even
# if the mark was not saved with it (positions from before the mark existed).
_POSITIONED_TABLES = ("events", "account_data", "receipts")


def load_top_job(conn: sqlite3.Connection) -> int:
    """The highest position ever handed out (0 on a new database)."""
    row = conn.execute("SELECT pos FROM stream_position WHERE id = 1").fetchone()
    top = row[0] if row else 0
    for table in _POSITIONED_TABLES:
        val = conn.execute(f"SELECT MAX(stream_pos) FROM {table}").fetchone()[0]
        top = max(top, val or 0)
    return top


def save_job(conn: sqlite3.Connection, pos: int) -> None:
    conn.execute("UPDATE stream_position SET pos = ? WHERE id = 1", (pos,))
