"""A plugin's storage reaches its own tables and nothing else (core/storage/plugin_tables.py)."""
from __future__ import annotations

import sqlite3

import pytest

from appliance.core.storage.database import Database
from appliance.core.storage.migrate import apply_migrations
from appliance.core.storage.plugin_tables import PluginTables


@pytest.fixture
async def db(tmp_path):
    d = Database(tmp_path / "hearth.db")
    await d.open()
    d.run_unqueued(lambda conn: apply_migrations(conn, "core", "appliance.core.storage.migrations"))
    yield d
    await d.close()


async def test_own_tables_made_written_and_read(db):
    tables = PluginTables(db, "echo")
    assert tables.migrate("tests.bridges.fixture_migrations") == [1]
    assert tables.migrate("tests.bridges.fixture_migrations") == []  # once
    assert await tables.execute("INSERT INTO echo_notes (text) VALUES (?)", ("hello",)) == 1
    await tables.execute_many([("INSERT INTO echo_notes (text) VALUES (?)", ("a",)),
                               ("UPDATE echo_notes SET text = ? WHERE text = ?", ("b", "a"))])
    assert await tables.fetchall("SELECT text FROM echo_notes ORDER BY id") == [("hello",), ("b",)]
    tables.close()


@pytest.mark.parametrize("sql", [
    "SELECT * FROM users",
    "SELECT password_hash FROM users WHERE user_id = 'x'",
    "SELECT (SELECT COUNT(*) FROM access_tokens) FROM echo_notes",
    "SELECT * FROM echo_notes JOIN events ON 1",
    "PRAGMA table_info(users)",
    "SELECT * FROM sqlite_master",
])
async def test_other_tables_cannot_be_read(db, sql):
    tables = PluginTables(db, "echo")
    tables.migrate("tests.bridges.fixture_migrations")
    with pytest.raises(sqlite3.DatabaseError, match="not authorized|prohibited"):
        await tables.fetchall(sql)
    tables.close()


@pytest.mark.parametrize("sql", [
    "DELETE FROM users",
    "UPDATE users SET admin = 1",
    "INSERT INTO echo_notes (text) SELECT user_id FROM users",
    "CREATE TABLE echo_more (x)",
    "DROP TABLE echo_notes",
    "ATTACH DATABASE ':memory:' AS other",
    "COMMIT",
])
async def test_other_tables_and_schema_cannot_be_written(db, sql):
    tables = PluginTables(db, "echo")
    tables.migrate("tests.bridges.fixture_migrations")
    with pytest.raises(sqlite3.DatabaseError, match="not authorized|prohibited"):
        await tables.execute(sql)
    # and the writer is fine afterwards (the authorizer is gone for the next job)
    await db.write(lambda conn: conn.execute("SELECT COUNT(*) FROM users").fetchone())
    tables.close()


async def test_a_migration_may_not_touch_other_tables(db, tmp_path, monkeypatch):
    pkg = tmp_path / "badplugin_migrations"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "0001_evil.sql").write_text("CREATE TABLE echo_ok (x);\nDROP TABLE users;\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    tables = PluginTables(db, "echo")
    with pytest.raises(sqlite3.DatabaseError, match="not authorized|prohibited"):
        tables.migrate("badplugin_migrations")
    assert await db.fetchval("SELECT COUNT(*) FROM sqlite_master WHERE name = 'echo_ok'") == 0  # rolled back
    assert await db.fetchval("SELECT COUNT(*) FROM sqlite_master WHERE name = 'users'") == 1
