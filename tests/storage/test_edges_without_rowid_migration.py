"""Migration 0280: event_auth, event_edges and forward_extremities become WITHOUT ROWID tables.
An upgraded server keeps every row, the primary keys still refuse duplicates, and the graph
queries (children by prev_event_id) still have their index."""
from __future__ import annotations

import sqlite3

import pytest

from appliance.core.storage.migrate import apply_migrations

from .test_stream_consumers_migration import PACKAGE, _apply_before

NUMBER = 280


def _without_rowid(conn: sqlite3.Connection, table: str) -> bool:
    sql = conn.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
    return "WITHOUT ROWID" in sql.upper()


def test_rows_are_kept_and_keys_still_unique(tmp_path):
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    _apply_before(conn, NUMBER)
    auth = [(f"$e{i}", f"$a{j}") for i in range(50) for j in range(3)]
    edges = [(f"$e{i}", f"$e{i - 1}") for i in range(1, 50)]
    extremities = [("!r1:hs", "$e49"), ("!r2:hs", "$x"), ("!r2:hs", "$y")]
    conn.executemany("INSERT INTO event_auth (event_id, auth_id) VALUES (?, ?)", auth)
    conn.executemany("INSERT INTO event_edges (event_id, prev_event_id) VALUES (?, ?)", edges)
    conn.executemany("INSERT INTO forward_extremities (room_id, event_id) VALUES (?, ?)", extremities)

    assert NUMBER in apply_migrations(conn, "core", PACKAGE)

    for table in ("event_auth", "event_edges", "forward_extremities"):
        assert _without_rowid(conn, table)
    assert sorted(conn.execute("SELECT event_id, auth_id FROM event_auth")) == sorted(auth)
    assert sorted(conn.execute("SELECT event_id, prev_event_id FROM event_edges")) == sorted(edges)
    assert sorted(conn.execute("SELECT room_id, event_id FROM forward_extremities")) == sorted(extremities)
    plan = " ".join(r[-1] for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT event_id FROM event_edges WHERE prev_event_id = '$e3'"))
    assert "event_edges_prev" in plan
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO forward_extremities (room_id, event_id) VALUES ('!r2:hs', '$x')")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO event_auth (event_id, auth_id) VALUES ('$e1', '$a0')")
    conn.close()


def test_notification_rows_are_rekeyed_by_room(tmp_path):
    """Migration 0281: push_notifs keyed by (user, room, stream position), its rows kept and the
    unread count of one room read from the key alone (no second B-tree to write)."""
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    _apply_before(conn, 281)
    rows = [(u, 1000 + i, 10 + i % 3, "" if i % 4 else "$root", i % 2, 1, 5000 + i)
            for u in (1, 2) for i in range(30)]
    conn.executemany("INSERT INTO push_notifs (user_nid, stream_pos, room_nid, thread_id, highlight, actions, ts)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    assert 281 in apply_migrations(conn, "core", PACKAGE)

    assert _without_rowid(conn, "push_notifs")
    kept = conn.execute("SELECT user_nid, stream_pos, room_nid, thread_id, highlight, actions, ts FROM push_notifs")
    assert sorted(kept) == sorted(rows)
    assert conn.execute("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'push_notifs'"
                        " AND sql IS NOT NULL").fetchall() == []
    plan = " ".join(r[-1] for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT stream_pos, thread_id, highlight FROM push_notifs"
        " WHERE user_nid = 1 AND room_nid = 11 AND stream_pos > 1003 AND stream_pos <= 1020"))
    assert "PRIMARY KEY" in plan and "stream_pos>" in plan.replace(" ", "")
    conn.execute("INSERT OR IGNORE INTO push_notifs (user_nid, stream_pos, room_nid, thread_id, highlight, actions, ts)"
                 " VALUES (1, 1000, 10, '', 1, 1, 1)")  # a row evaluated twice stays as it was
    assert conn.execute("SELECT highlight, ts FROM push_notifs WHERE user_nid = 1 AND stream_pos = 1000"
                        ).fetchall() == [(0, 5000)]
    conn.close()
