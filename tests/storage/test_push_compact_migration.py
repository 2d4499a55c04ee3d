"""Migration 0051: notification rows written before it are converted, not lost, and read back
exactly as they were written (user, room, event, thread, highlight, actions, ts)."""
from __future__ import annotations

import importlib.resources
import json
import sqlite3

from appliance.core.storage.migrate import _migrations, _split_sql, apply_migrations
from appliance.core.storage.stores.push import Notification, PushStore

PACKAGE = "appliance.core.storage.migrations"


def _apply_upto(conn: sqlite3.Connection, last: int) -> None:
    """The schema as a server at migration `last` left it (recorded, so the rest applies later)."""
    conn.execute("CREATE TABLE schema_migrations (owner TEXT NOT NULL, number INTEGER NOT NULL, name TEXT NOT NULL,"
                 " applied_ts INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (owner, number))")
    for number, name, kind in _migrations(PACKAGE):
        if number > last:
            break
        assert kind == "sql"
        for statement in _split_sql(importlib.resources.files(PACKAGE).joinpath(name).read_text()):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations (owner, number, name) VALUES ('core', ?, ?)", (number, name))
    conn.commit()


def test_old_rows_survive_the_new_layout(tmp_path):
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    _apply_upto(conn, 50)
    rooms = ["!a:hearth.test", "!b:hearth.test"]
    for pos in range(1, 7):
        conn.execute("INSERT INTO events (stream_pos, event_id, room_id, type, sender, origin_server_ts, depth, json)"
                     " VALUES (?, ?, ?, 'm.room.message', '@carol:hearth.test', 0, ?, '{}')",
                     (pos, f"$e{pos}", rooms[pos % 2], pos))
    old = [
        ("@alice:hearth.test", 1, rooms[1], "$e1", "", 0, ["notify"], 1001),
        ("@alice:hearth.test", 2, rooms[0], "$e2", "", 1,
         ["notify", {"set_tweak": "sound", "value": "default"}, {"set_tweak": "highlight"}], 1002),
        ("@bob:hearth.test", 2, rooms[0], "$e2", "", 0, ["notify"], 1003),
        ("@bob:hearth.test", 5, rooms[1], "$e5", "$e1", 0, ["notify"], 1005),
    ]
    conn.executemany("INSERT INTO push_notifications (user_id, stream_pos, room_id, event_id, thread_id,"
                     " highlight, actions, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [(*r[:6], json.dumps(r[6]), r[7]) for r in old])

    assert 51 in apply_migrations(conn, "core", PACKAGE)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "push_notifications" not in tables and "push_notifs" in tables
    assert conn.execute("SELECT COUNT(*) FROM push_notifs").fetchone()[0] == 4
    assert conn.execute("SELECT COUNT(*) FROM push_actions").fetchone()[0] == 2  # shared, not per row

    # New rows reuse the converted IDs and actions; a second write of a row is ignored.
    new = Notification("@alice:hearth.test", 6, rooms[0], "$e6", "", False, ["notify"], 1006)
    PushStore.record_job(conn, [new, new], 6)
    assert conn.execute("SELECT COUNT(*) FROM push_ids").fetchone()[0] == 4
    assert conn.execute("SELECT COUNT(*) FROM push_actions").fetchone()[0] == 2
    assert conn.execute("SELECT pos FROM push_progress").fetchone()[0] == 6
    conn.close()


async def test_store_reads_back_what_it_wrote(tmp_path):
    from appliance.core.storage.database import Database

    db = Database(tmp_path / "hearth.db")
    await db.open()
    try:
        db.run_unqueued(lambda conn: apply_migrations(conn, "core", PACKAGE))

        def events(conn: sqlite3.Connection) -> None:
            for pos, room in ((10, "!a:x"), (11, "!b:x"), (12, "!a:x")):
                conn.execute("INSERT INTO events (stream_pos, event_id, room_id, type, sender, origin_server_ts,"
                             " depth, json) VALUES (?, ?, ?, 'm.room.message', '@c:x', 0, 1, '{}')",
                             (pos, f"$ev{pos}", room))

        await db.write(events)
        notes = [
            Notification("@a:x", 10, "!a:x", "$ev10", "", False, ["notify"], 5),
            Notification("@a:x", 11, "!b:x", "$ev11", "$ev10", True, ["notify", {"set_tweak": "highlight"}], 6),
            Notification("@a:x", 12, "!a:x", "$ev12", "", False, ["notify"], 7),
            Notification("@b:x", 12, "!a:x", "$ev12", "", False, ["notify"], 8),
        ]
        await db.write(lambda conn: PushStore.record_job(conn, notes, 12))
        store = PushStore(db)
        assert await store.progress() == 12
        assert await store.list_notifications("@a:x", None, 10, False) == notes[2::-1]
        assert await store.list_notifications("@a:x", 12, 10, False) == notes[1::-1]
        assert await store.list_notifications("@a:x", None, 10, True) == [notes[1]]
        assert await store.pending("@a:x", 10, 10) == notes[1:3]
        assert await store.pending("@b:x", 0, 10) == [notes[3]]
        assert await store.room_notifications("@a:x", "!a:x", 0, 12) == [(10, "", False), (12, "", False)]
        assert await store.room_notifications("@a:x", "!a:x", 10, 11) == []
        assert await store.room_notifications("@a:x", "!b:x", 0, 12) == [(11, "$ev10", True)]
        assert await store.room_notifications("@nobody:x", "!a:x", 0, 12) == []
        assert sorted(await store.rooms_with_notifications("@a:x", 10)) == ["!a:x", "!b:x"]
        assert await store.rooms_with_notifications("@a:x", 12) == []
        assert await store.list_notifications("@nobody:x", None, 10, False) == []
    finally:
        await db.close()


def test_record_job_uses_and_returns_known_numbers(tmp_path):
    """The numbers the evaluator remembers after a commit spare later jobs their lookups, and
    rows written with them read back as with lookups; a job reports the numbers it used."""
    conn = sqlite3.connect(tmp_path / "new.db", isolation_level=None)
    _apply_upto(conn, 10_000)  # every migration
    note = Notification("@a:x", 1, "!r:x", "$e", "", False, ["notify"], 5)
    conn.execute("BEGIN")
    ids, actions = PushStore.record_job(conn, [note], 1)
    conn.execute("COMMIT")
    assert set(ids) == {"@a:x", "!r:x"} and list(actions) == [json.dumps(["notify"])]
    queries: list[str] = []
    conn.set_trace_callback(queries.append)
    conn.execute("BEGIN")
    again = PushStore.record_job(conn, [Notification("@a:x", 2, "!r:x", "$f", "", True, ["notify"], 6)], 2,
                                 ids, actions)
    conn.execute("COMMIT")
    assert again == (ids, actions)
    assert not [q for q in queries if "push_ids" in q or "push_actions" in q]
    rows = conn.execute("SELECT user_nid, room_nid, actions, stream_pos FROM push_notifs ORDER BY stream_pos").fetchall()
    assert rows == [(ids["@a:x"], ids["!r:x"], actions[json.dumps(["notify"])], 1),
                    (ids["@a:x"], ids["!r:x"], actions[json.dumps(["notify"])], 2)]
