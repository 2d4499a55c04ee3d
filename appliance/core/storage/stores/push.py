"""Push: notification rows, what push evaluation and retention read around them, and pushers."""
from __future__ import annotations

from collections.abc import Collection

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..database import Database
from .stream_consumers import StreamConsumerStore

PUSH_CONSUMER = "push"  # push evaluation's stream consumer (services/push.py)


@dataclass(frozen=True, slots=True)
class Notification:
    user_id: str
    stream_pos: int
    room_id: str
    event_id: str
    thread_id: str
    highlight: bool
    actions: list[Any]
    ts: int


@dataclass(frozen=True, slots=True)
class Pusher:
    user_id: str
    app_id: str
    pushkey: str
    kind: str
    app_display_name: str
    device_display_name: str
    profile_tag: str | None
    lang: str
    data: dict[str, Any]
    device_id: str | None
    pushkey_ts: int
    last_pos: int

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.app_id, self.pushkey, self.user_id)


# push_notifs holds integers (migration 0051): the user and room by push_ids.nid, the actions
# by push_actions.id, the event by its stream position. Reads join the text back.
_N_SELECT = ("SELECT u.id, n.stream_pos, r.id, COALESCE(e.event_id, ''), n.thread_id, n.highlight, a.json, n.ts"
             " FROM push_notifs n JOIN push_ids u ON u.nid = n.user_nid JOIN push_ids r ON r.nid = n.room_nid"
             " JOIN push_actions a ON a.id = n.actions LEFT JOIN events e ON e.stream_pos = n.stream_pos")
_NID = "(SELECT nid FROM push_ids WHERE id = ?)"
_P_COLS = ("user_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data,"
           " device_id, pushkey_ts, last_pos")


def _notification(row: sqlite3.Row) -> Notification:
    return Notification(row[0], row[1], row[2], row[3], row[4], bool(row[5]), json.loads(row[6]), row[7])


def _pusher(row: sqlite3.Row) -> Pusher:
    return Pusher(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], json.loads(row[8]),
                  row[9], row[10], row[11])


class PushStore:
    def __init__(self, db: Database):
        self.db = db
        # push_ids and push_actions rows never change once committed: their numbers, learnt after
        # each commit (record_job returns them), spare record_job a SELECT per user, room and
        # action set. Only ever filled after the transaction that holds them committed.
        self.known_ids: dict[str, int] = {}
        self.known_actions: dict[str, int] = {}

    # -- notifications ------------------------------------------------------------------------

    async def progress(self) -> int:
        """How far push evaluation has recorded notifications (the stream consumer "push")."""
        return await self.db.fetchval("SELECT pos FROM stream_consumers WHERE name = ?", (PUSH_CONSUMER,)) or 0

    @staticmethod
    def record_notifications_job(conn: sqlite3.Connection, notifications: Iterable[Notification],
                                 known_ids: Mapping[str, int] | None = None,
                                 known_actions: Mapping[str, int] | None = None
                                 ) -> tuple[dict[str, int], dict[str, int]]:
        """Store notifications (a row already stored stays as it is). Returns the push_ids and
        push_actions numbers it used, for the caller to remember once this has committed."""
        nids: dict[str, int] = {}
        action_ids: dict[str, int] = {}
        nid = partial(_number_of, conn, "push_ids", "nid", "id", nids, known_ids or {})
        numbered_actions = partial(_number_of, conn, "push_actions", "id", "json", action_ids, known_actions or {})

        def action_id(actions: list[Any]) -> int:
            return numbered_actions(json.dumps(actions))

        conn.executemany(
            "INSERT OR IGNORE INTO push_notifs (user_nid, stream_pos, room_nid, thread_id, highlight, actions, ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(nid(n.user_id), n.stream_pos, nid(n.room_id), n.thread_id, int(n.highlight), action_id(n.actions),
              n.ts) for n in notifications])
        return nids, action_ids

    @staticmethod
    def record_job(conn: sqlite3.Connection, notifications: Iterable[Notification], upto: int,
                   known_ids: Mapping[str, int] | None = None, known_actions: Mapping[str, int] | None = None
                   ) -> tuple[dict[str, int], dict[str, int]]:
        """Store notifications and move push evaluation's position to `upto` (never back), by
        hand: the running evaluator's batches go through its stream consumer instead."""
        used = PushStore.record_notifications_job(conn, notifications, known_ids, known_actions)
        StreamConsumerStore.advance_job(conn, PUSH_CONSUMER, upto)
        return used

    async def room_notifications(self, user_id: str, room_id: str, after: int, upto: int
                                 ) -> list[tuple[int, str, bool]]:
        """(stream_pos, thread_id, highlight) of the user's notifications in a room in (after, upto]."""
        rows = await self.db.fetchall(
            "SELECT stream_pos, thread_id, highlight FROM push_notifs"
            f" WHERE user_nid = {_NID} AND room_nid = {_NID} AND stream_pos > ? AND stream_pos <= ?",
            (user_id, room_id, after, upto))
        return [(r[0], r[1], bool(r[2])) for r in rows]

    async def rooms_with_notifications(self, user_id: str, after: int) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT DISTINCT r.id FROM push_notifs n JOIN push_ids r ON r.nid = n.room_nid"
            f" WHERE n.user_nid = {_NID} AND n.stream_pos > ?", (user_id, after))
        return [r[0] for r in rows]

    async def list_notifications(self, user_id: str, before: int | None, limit: int,
                                 highlight_only: bool) -> list[Notification]:
        sql = f"{_N_SELECT} WHERE n.user_nid = {_NID}"
        params: list[Any] = [user_id]
        if before is not None:
            sql += " AND n.stream_pos < ?"
            params.append(before)
        if highlight_only:
            sql += " AND n.highlight = 1"
        sql += " ORDER BY n.stream_pos DESC LIMIT ?"
        params.append(limit)
        return [_notification(r) for r in await self.db.fetchall(sql, tuple(params))]

    async def pending(self, user_id: str, after: int, limit: int) -> list[Notification]:
        rows = await self.db.fetchall(
            f"{_N_SELECT} WHERE n.user_nid = {_NID} AND n.stream_pos > ? ORDER BY n.stream_pos LIMIT ?",
            (user_id, after, limit))
        return [_notification(r) for r in rows]

    async def read_receipts(self, user_id: str, room_id: str | None = None) -> list[tuple[str, str, str]]:
        """(room_id, thread_id, event_id) of the user's m.read and m.read.private receipts."""
        sql = ("SELECT room_id, thread_id, event_id FROM receipts WHERE user_id = ?"
               " AND receipt_type IN ('m.read', 'm.read.private')")
        params: tuple = (user_id,)
        if room_id is not None:
            sql += " AND room_id = ?"
            params = (user_id, room_id)
        return [(r[0], r[1], r[2]) for r in await self.db.fetchall(sql, params)]

    async def own_read_points(self, user_id: str, room_id: str,
                              thread_roots: Collection[str] | None) -> dict[str, int]:
        """The user's latest event in the room's main timeline ('main') and in each thread
        (its root), by stream position: what they sent, they have read. `thread_roots`: the
        threads asked about; None for every thread they wrote in."""
        points: dict[str, int] = {}
        main = await self.db.fetchval(
            "SELECT stream_pos FROM events WHERE sender = ? AND room_id = ?"
            " AND (rel_type IS NULL OR rel_type != 'm.thread') ORDER BY stream_pos DESC LIMIT 1", (user_id, room_id))
        if main is not None:
            points["main"] = main
        if thread_roots is None:
            rows = await self.db.fetchall(
                "SELECT relates_to, MAX(stream_pos) FROM events WHERE sender = ? AND room_id = ?"
                " AND rel_type = 'm.thread' GROUP BY relates_to", (user_id, room_id))
        elif thread_roots:
            roots = list(thread_roots)
            rows = await self.db.fetchall(
                f"SELECT relates_to, MAX(stream_pos) FROM events WHERE relates_to IN ({','.join('?' * len(roots))})"
                " AND rel_type = 'm.thread' AND sender = ? AND room_id = ? GROUP BY relates_to",
                (*roots, user_id, room_id))
        else:
            rows = []
        points.update({r[0]: r[1] for r in rows})
        return points

    async def joined_rooms(self, user_id: str) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT room_id FROM room_memberships WHERE user_id = ? AND membership = 'join'", (user_id,))
        return [r[0] for r in rows]

    # -- retention ----------------------------------------------------------------------------

    async def users_with_notifications_before(self, ts: int) -> list[tuple[int, str]]:
        """(push_ids number, user ID) of the users with a notification row older than `ts`."""
        rows = await self.db.fetchall(
            "SELECT u.nid, u.id FROM push_ids u"
            " WHERE u.id LIKE '@%' AND EXISTS (SELECT 1 FROM push_notifs n WHERE n.user_nid = u.nid AND n.ts < ?)",
            (ts,))
        return [(r[0], r[1]) for r in rows]

    async def notifications_before(self, user_nid: int, ts: int, after: int, limit: int
                                   ) -> list[tuple[int, str, str]]:
        """(stream_pos, room_id, thread_id) of a user's notification rows older than `ts`, in
        stream order from after stream position `after`: one page."""
        rows = await self.db.fetchall(
            "SELECT n.stream_pos, r.id, n.thread_id FROM push_notifs n JOIN push_ids r ON r.nid = n.room_nid"
            " WHERE n.user_nid = ? AND n.stream_pos > ? AND n.ts < ? ORDER BY n.stream_pos LIMIT ?",
            (user_nid, after, ts, limit))
        return [(r[0], r[1], r[2]) for r in rows]

    @staticmethod
    def delete_notifications_job(conn: sqlite3.Connection, user_nid: int,
                                 positions: Iterable[tuple[str, int]]) -> int:
        """Delete a user's notification rows, each given by (room ID, stream position)."""
        return conn.executemany(f"DELETE FROM push_notifs WHERE user_nid = ? AND room_nid = {_NID} AND stream_pos = ?",
                                [(user_nid, room_id, p) for room_id, p in positions]).rowcount

    # -- pushers ------------------------------------------------------------------------------

    async def pushers(self, user_id: str | None = None) -> list[Pusher]:
        if user_id is None:
            rows = await self.db.fetchall(f"SELECT {_P_COLS} FROM pushers")
        else:
            rows = await self.db.fetchall(f"SELECT {_P_COLS} FROM pushers WHERE user_id = ?", (user_id,))
        return [_pusher(r) for r in rows]

    async def pusher(self, app_id: str, pushkey: str, user_id: str) -> Pusher | None:
        row = await self.db.fetchone(
            f"SELECT {_P_COLS} FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id = ?",
            (app_id, pushkey, user_id))
        return _pusher(row) if row else None

    @staticmethod
    def upsert_pusher_job(conn: sqlite3.Connection, p: Pusher) -> None:
        """Insert, or update everything but the delivery position."""
        conn.execute(
            f"INSERT INTO pushers ({_P_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (app_id, pushkey, user_id) DO UPDATE SET kind = excluded.kind,"
            " app_display_name = excluded.app_display_name, device_display_name = excluded.device_display_name,"
            " profile_tag = excluded.profile_tag, lang = excluded.lang, data = excluded.data,"
            " device_id = excluded.device_id, pushkey_ts = excluded.pushkey_ts",
            (p.user_id, p.app_id, p.pushkey, p.kind, p.app_display_name, p.device_display_name, p.profile_tag,
             p.lang, json.dumps(p.data), p.device_id, p.pushkey_ts, p.last_pos))

    @staticmethod
    def delete_pusher_job(conn: sqlite3.Connection, app_id: str, pushkey: str, user_id: str) -> int:
        return conn.execute("DELETE FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id = ?",
                            (app_id, pushkey, user_id)).rowcount

    @staticmethod
    def delete_others_job(conn: sqlite3.Connection, app_id: str, pushkey: str, user_id: str) -> list[str]:
        """Remove the pushers with this app ID and pushkey of other users; returns those users."""
        rows = conn.execute("SELECT user_id FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id != ?",
                            (app_id, pushkey, user_id)).fetchall()
        conn.execute("DELETE FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id != ?",
                     (app_id, pushkey, user_id))
        return [r[0] for r in rows]

    @staticmethod
    def delete_for_devices_job(conn: sqlite3.Connection, user_id: str, device_ids: list[str]) -> list[tuple]:
        out = []
        for d in device_ids:
            rows = conn.execute("SELECT app_id, pushkey FROM pushers WHERE user_id = ? AND device_id = ?",
                                (user_id, d)).fetchall()
            out += [(r[0], r[1], user_id) for r in rows]
            conn.execute("DELETE FROM pushers WHERE user_id = ? AND device_id = ?", (user_id, d))
        return out

    async def set_last_pos(self, app_id: str, pushkey: str, user_id: str, pos: int) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE pushers SET last_pos = MAX(last_pos, ?) WHERE app_id = ? AND pushkey = ?"
                         " AND user_id = ?", (pos, app_id, pushkey, user_id))

        await self.db.write(job)


def _number_of(conn: sqlite3.Connection, table: str, number_col: str, key_col: str, used: dict[str, int],
               known: Mapping[str, int], key: str) -> int:
    """The number of `key` in a push_ids / push_actions style table (key -> number, never
    changed once written): from this job's own lookups, from what earlier commits taught the
    caller, or from the table, inserting it if new. Whatever is used is recorded in `used`."""
    found = used.get(key)
    if found is None:
        found = known.get(key)
        if found is None:
            row = conn.execute(f"SELECT {number_col} FROM {table} WHERE {key_col} = ?", (key,)).fetchone()
            found = row[0] if row else conn.execute(f"INSERT INTO {table} ({key_col}) VALUES (?)", (key,)).lastrowid
        used[key] = found
    return found
