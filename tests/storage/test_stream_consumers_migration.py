"""Migration 0115: the saved positions of push evaluation (push_progress) and of the search indexer
(search_progress) become their stream consumers' rows, so an upgraded server neither evaluates or
indexes an event twice nor skips one; the old names still read (and set) those rows."""
from __future__ import annotations

import importlib.resources
import sqlite3

from appliance.core.storage.migrate import _migrations, _split_sql, apply_migrations

PACKAGE = "appliance.core.storage.migrations"
NUMBER = 115


def _apply_before(conn: sqlite3.Connection, number: int) -> None:
    """The schema as a server from before migration `number` left it (recorded as applied)."""
    conn.execute("CREATE TABLE schema_migrations (owner TEXT NOT NULL, number INTEGER NOT NULL, name TEXT NOT NULL,"
                 " applied_ts INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (owner, number))")
    for n, name, kind in _migrations(PACKAGE):
        if n >= number:
            break
        assert kind == "sql"
        for statement in _split_sql(importlib.resources.files(PACKAGE).joinpath(name).read_text()):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations (owner, number, name) VALUES ('core', ?, ?)", (n, name))


def test_saved_positions_are_carried_over(tmp_path):
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    _apply_before(conn, NUMBER)
    conn.execute("UPDATE push_progress SET pos = 4242 WHERE id = 1")
    conn.execute("UPDATE search_progress SET pos = 4200 WHERE id = 1")

    assert NUMBER in apply_migrations(conn, "core", PACKAGE)
    assert dict(conn.execute("SELECT name, pos FROM stream_consumers")) == {"push": 4242, "search": 4200}
    assert conn.execute("SELECT id, pos FROM push_progress").fetchall() == [(1, 4242)]
    assert conn.execute("SELECT id, pos FROM search_progress").fetchall() == [(1, 4200)]

    conn.execute("UPDATE search_progress SET pos = 17")  # the old name sets the consumer's row
    assert conn.execute("SELECT pos FROM stream_consumers WHERE name = 'search'").fetchone() == (17,)
    assert conn.execute("SELECT pos FROM stream_consumers WHERE name = 'push'").fetchone() == (4242,)
    conn.close()
