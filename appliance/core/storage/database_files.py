"""Database files that are not the server's open `Database`: the consistent copy a backup takes
of the live file, checking such a copy, whether a running server holds a file, and settings
written into a staged (restored, not yet opened) database.

These open their own short-lived sqlite3 connections; they do no I/O through the writer.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path


class UnreadableDatabase(Exception):
    """The file cannot be opened or read as an SQLite database."""


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]


def _row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in _tables(conn)}


def copy_in_one_snapshot(db_path: Path, dest: Path, progress: Callable[[int, int], None] | None = None
                         ) -> tuple[dict[str, int], dict[str, str]]:
    """Copy the live database to `dest` with SQLite's online backup API, inside one read
    snapshot; returns (each table's row count, the stored `server_settings`) of that snapshot."""
    src = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    try:
        src.execute("PRAGMA query_only=ON")
        src.execute("BEGIN")  # the counts and the copy see the same snapshot (WAL keeps it stable)
        counts = _row_counts(src)
        stored: dict[str, str] = {}
        if "server_settings" in counts:
            stored = {k: v for k, v in src.execute("SELECT key, value FROM server_settings")}
        dst = sqlite3.connect(dest)
        try:
            def step(status: int, remaining: int, total: int) -> None:
                if progress:
                    progress(total - remaining, total)
            src.backup(dst, pages=256, progress=step)
        finally:
            dst.close()
        src.execute("COMMIT")
    finally:
        src.close()
    return counts, stored


def check_copy(path: Path, *, count_rows: bool) -> tuple[list[tuple], dict[str, int] | None]:
    """(`PRAGMA integrity_check`'s rows, each table's row count) of a database file opened
    read-only; the counts only if asked and the check passed. Raises UnreadableDatabase."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchall()
        if [r[0] for r in result] != ["ok"] or not count_rows:
            return result, None
        return result, _row_counts(conn)
    except sqlite3.DatabaseError as exc:
        raise UnreadableDatabase(str(exc)) from None
    finally:
        conn.close()


def is_in_use(db_path: Path) -> bool:
    """Does a running Hearth (any open connection) hold this database? An exclusive lock says."""
    if not db_path.exists():
        return False
    conn = sqlite3.connect(db_path, timeout=0.5, isolation_level=None)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    except sqlite3.DatabaseError:  # not a database: a damaged one is not in use
        return False
    finally:
        conn.close()


def write_settings(db_path: Path, *, if_absent: dict[str, str], delete: Iterable[str],
                   replace: dict[str, str]) -> bool:
    """In one transaction on a closed database file: insert `if_absent` where missing, delete the
    `delete` keys, set `replace`. False (nothing written) if the file has no settings table."""
    conn = sqlite3.connect(db_path)
    try:
        with conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "server_settings" not in tables:
                return False
            conn.executemany("INSERT OR IGNORE INTO server_settings (key, value) VALUES (?, ?)",
                             list(if_absent.items()))
            conn.executemany("DELETE FROM server_settings WHERE key = ?", [(k,) for k in delete])
            conn.executemany("INSERT OR REPLACE INTO server_settings (key, value) VALUES (?, ?)",
                             list(replace.items()))
        return True
    finally:
        conn.close()
