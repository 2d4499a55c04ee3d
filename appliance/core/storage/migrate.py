"""Numbered migrations, applied at start-up, each once and in its own transaction.

A migration is `NNNN_name.sql` (or `.py` with `def migrate(conn)`, only for moving data) in
an owner's migrations package. Applied migrations are recorded in
`schema_migrations(owner, number)`; a landed migration is never edited.
"""
from __future__ import annotations

import importlib
import importlib.resources
import logging
import re
import sqlite3

log = logging.getLogger(__name__)
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.(sql|py)$")


def _migrations(package: str) -> list[tuple[int, str, str]]:
    found = []
    for entry in importlib.resources.files(package).iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, m.group(2)))
    found.sort()
    numbers = [n for n, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"duplicate migration numbers in {package}")
    return found


def apply_migrations(conn: sqlite3.Connection, owner: str, package: str) -> list[int]:
    """Apply every migration of `package` not yet recorded for `owner`; returns those applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " owner TEXT NOT NULL, number INTEGER NOT NULL, name TEXT NOT NULL,"
        " applied_ts INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER) * 1000),"
        " PRIMARY KEY (owner, number))"
    )
    done = {row[0] for row in conn.execute("SELECT number FROM schema_migrations WHERE owner = ?", (owner,))}
    applied = []
    for number, name, kind in _migrations(package):
        if number in done:
            continue
        log.info("applying migration %s/%s", owner, name)
        conn.execute("BEGIN IMMEDIATE")
        try:
            if kind == "sql":
                script = importlib.resources.files(package).joinpath(name).read_text()
                for statement in _split_sql(script):
                    conn.execute(statement)
            else:
                module = importlib.import_module(f"{package}.{name[:-3]}")
                module.migrate(conn)
            conn.execute(
                "INSERT INTO schema_migrations (owner, number, name) VALUES (?, ?, ?)", (owner, number, name)
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(number)
    return applied


def _split_sql(script: str) -> list[str]:
    """Split a script into statements (sqlite3.complete_statement knows about triggers/strings)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not current.strip().startswith("--"):
        statements.append(current.strip())
    return statements
