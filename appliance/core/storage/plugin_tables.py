"""A bridge plugin's own tables, and nothing else (appliance/bridges/api.py `PluginStorage`).

A plugin's SQL runs under SQLite's authorizer (`sqlite3.Connection.set_authorizer`): every table
a statement reads or writes must start with the plugin's prefix (`<bridge id>_`); PRAGMA, ATTACH,
transactions and schema changes are refused (`sqlite3.DatabaseError`: "not authorized", or "access to … is prohibited"). Reads go
through a read-only connection of the plugin's own, the authorizer set once; writes run as writer
jobs (one transaction with the rest of the batch, durable when the call returns) with the
authorizer set for the job and removed after it. The plugin's migrations (`NNNN_name.sql` in the
package it names) run in their own track (`bridge:<id>` in schema_migrations) under an authorizer
that lets them create, alter and drop only tables and indexes of the prefix.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .database import Database
from .migrate import apply_migrations

Params = Sequence[Any] | Mapping[str, Any]

_TABLE_ACTIONS = {sqlite3.SQLITE_READ, sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE}
_ALWAYS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_DDL = {sqlite3.SQLITE_CREATE_TABLE: 0, sqlite3.SQLITE_CREATE_INDEX: 1, sqlite3.SQLITE_DROP_TABLE: 0,
        sqlite3.SQLITE_DROP_INDEX: 1, sqlite3.SQLITE_ALTER_TABLE: 1}  # action → which argument names the table
_SCHEMA_TABLES = {"sqlite_master", "sqlite_schema", "sqlite_temp_master", "schema_migrations", "sqlite_sequence"}


def authorizer(prefix: str, *, migrations: bool = False) -> Callable[..., int]:
    """The authorizer of a plugin's statements: its own tables only (and, for its migrations,
    their schema changes and the bookkeeping of the migration track)."""
    def check(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
        if action in _ALWAYS:
            return sqlite3.SQLITE_OK
        if action in _TABLE_ACTIONS:
            table = arg1 or ""
            if table.startswith(prefix) or (migrations and table in _SCHEMA_TABLES):
                return sqlite3.SQLITE_OK
            return sqlite3.SQLITE_DENY
        if migrations:
            if action in _DDL:
                table = (arg1, arg2)[_DDL[action]] or ""
                if action in (sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_DROP_INDEX):
                    index = arg1 or ""
                    if not (index.startswith(prefix) or index.startswith("sqlite_autoindex_")):
                        return sqlite3.SQLITE_DENY
                return sqlite3.SQLITE_OK if table.startswith(prefix) or table in _SCHEMA_TABLES else sqlite3.SQLITE_DENY
            if action == sqlite3.SQLITE_REINDEX:
                return sqlite3.SQLITE_OK if (arg1 or "").startswith(prefix) else sqlite3.SQLITE_DENY
            if action in (sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT):
                return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY
    return check


class PluginTables:
    def __init__(self, db: Database, bridge_id: str):
        self.db = db
        self.prefix = f"{bridge_id}_"
        self.track = f"bridge:{bridge_id}"
        self._auth = authorizer(self.prefix)
        self._reader: sqlite3.Connection | None = None

    def migrate(self, package: str) -> list[int]:
        """Apply the plugin's migrations not applied yet (at its start; in the writer's lock)."""
        auth = authorizer(self.prefix, migrations=True)

        def job(conn: sqlite3.Connection) -> list[int]:
            conn.set_authorizer(auth)
            try:
                return apply_migrations(conn, self.track, package)
            finally:
                conn.set_authorizer(None)
        return self.db.run_unqueued(job)

    def _read_conn(self) -> sqlite3.Connection:
        if self._reader is None:
            conn = sqlite3.connect(f"file:{self.db.path}?mode=ro", uri=True, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=10000")
            conn.set_authorizer(self._auth)
            self._reader = conn
        return self._reader

    async def fetchall(self, sql: str, params: Params = ()) -> list[tuple]:
        return self._read_conn().execute(sql, params).fetchall()

    async def fetchone(self, sql: str, params: Params = ()) -> tuple | None:
        return self._read_conn().execute(sql, params).fetchone()

    # A plugin's statements run in the writer thread (long=True): however long one takes, it never
    # holds up the event loop, which keeps serving whatever a plugin does.
    async def execute(self, sql: str, params: Params = ()) -> int:
        return await self.db.write(self._job([(sql, params)]), long=True)

    async def execute_many(self, statements: Sequence[tuple[str, Params]]) -> None:
        await self.db.write(self._job(list(statements)), long=True)

    def _job(self, statements: list[tuple[str, Params]]) -> Callable[[sqlite3.Connection], int]:
        auth = self._auth

        def job(conn: sqlite3.Connection) -> int:
            conn.set_authorizer(auth)
            try:
                changed = 0
                for sql, params in statements:
                    changed += conn.execute(sql, params).rowcount
                return changed
            finally:
                conn.set_authorizer(None)
        return job

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
