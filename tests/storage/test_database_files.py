"""Database files other than the open one (storage/database_files.py): the snapshot copy a backup
takes, checking a copy, and settings written into a staged restore."""
from __future__ import annotations

import sqlite3

import pytest

from appliance.core.services.backup import DamagedArchive, check_database
from appliance.core.storage import database_files


def _make(path, rows: int = 3, settings: bool = True) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)")
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(rows)])
        if settings:
            conn.execute("CREATE TABLE server_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.execute("INSERT INTO server_settings VALUES ('server_name', '\"a.test\"'), ('setup.code', 'x')")
    conn.close()


def _settings(path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT key, value FROM server_settings"))
    finally:
        conn.close()


def test_snapshot_copy_counts_rows_and_reads_settings(tmp_path):
    _make(tmp_path / "live.db", rows=5)
    counts, stored = database_files.copy_in_one_snapshot(tmp_path / "live.db", tmp_path / "copy.db")
    assert counts == {"t": 5, "server_settings": 2}
    assert stored == {"server_name": '"a.test"', "setup.code": "x"}
    result, got = database_files.check_copy(tmp_path / "copy.db", count_rows=True)
    assert [r[0] for r in result] == ["ok"] and got == counts
    check_database(tmp_path / "copy.db", counts)  # a sound copy passes


def test_a_copy_that_differs_or_is_not_a_database_is_damaged(tmp_path):
    _make(tmp_path / "copy.db", rows=2)
    with pytest.raises(DamagedArchive, match=r"does not match its snapshot \(tables \['t'\]\)"):
        check_database(tmp_path / "copy.db", {"t": 3, "server_settings": 2})
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(DamagedArchive, match="cannot be opened"):
        check_database(tmp_path / "junk.db", None)


def test_staged_settings_are_written_in_one_go_or_not_at_all(tmp_path):
    _make(tmp_path / "staged.db")
    assert database_files.write_settings(
        tmp_path / "staged.db", if_absent={"server_name": '"b.test"', "setup.completed": "restored"},
        delete=("setup.code",), replace={"backup.restored": "{}"})
    assert _settings(tmp_path / "staged.db") == {
        "server_name": '"a.test"', "setup.completed": "restored", "backup.restored": "{}"}

    _make(tmp_path / "bare.db", settings=False)
    assert not database_files.write_settings(tmp_path / "bare.db", if_absent={"k": "v"}, delete=(), replace={})
