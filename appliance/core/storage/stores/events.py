"""Events, the DAG around them, and current state.

Reads are async through the reader pool. Writes are synchronous `*_job` functions meant to be
run inside a writer job (`Database.write`), so that one event's rows, its state and its
stream position commit together.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from ...cache import LruCache
from ...protocol import room_versions
from ...protocol.events import Pdu, StateKey
from ..database import Database


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A PDU with what we know about it locally."""

    pdu: Pdu
    stream_pos: int
    state_group: int | None
    redacted_by: str | None
    rejected: str | None
    txn_key: str | None

    @property
    def event_id(self) -> str:
        return self.pdu.event_id


_EVENT_COLS = "event_id, room_id, json, stream_pos, state_group, redacted_by, rejected, txn_key"
_LIVE = "outlier = 0 AND rejected IS NULL"  # events that are part of a room's timeline


def _newest_first(ev: StoredEvent) -> int:
    return -ev.stream_pos


# What one cached event keeps alive besides its JSON text: the parsed dicts, lists and keys,
# the Pdu and StoredEvent (measured: ~2.5 KB for a small message, whose JSON is ~650 bytes).
EVENT_OVERHEAD_BYTES = 2560
# Parsed events kept in memory, by estimated size. The hot ones (the auth events of the rooms
# in use, the latest events that /sync and push read back) fit many times over; a cold read
# costs one indexed row and a json.loads (~15 us per event).
EVENT_CACHE_BYTES = 4 * 1024 * 1024


class EventStore:
    def __init__(self, db: Database, cache_bytes: int = EVENT_CACHE_BYTES):
        self.db = db
        self._cache: LruCache[str, StoredEvent] = LruCache(cache_bytes)
        # One entry per room of this server (a shared RoomVersion each): bounded by the rooms table.
        self._room_versions: dict[str, room_versions.RoomVersion] = {}

    @property
    def cache(self) -> LruCache:
        """The cache, for the metrics (its weight, hits and misses)."""
        return self._cache

    # -- rooms ------------------------------------------------------------------------------

    async def room_version(self, room_id: str) -> room_versions.RoomVersion | None:
        version = self._room_versions.get(room_id)
        if version is None:
            vid = await self.db.fetchval("SELECT room_version FROM rooms WHERE room_id = ?", (room_id,))
            if vid is None:
                return None
            version = room_versions.get(vid)
            if version is None:
                return None
            self._room_versions[room_id] = version
        return version

    def remember_room_version(self, room_id: str, version: room_versions.RoomVersion) -> None:
        self._room_versions[room_id] = version

    def forget_room(self, room_id: str, event_ids: Iterable[str]) -> None:
        """Drop what is cached about a room whose rows were purged (admin room deletion)."""
        self._room_versions.pop(room_id, None)
        for event_id in event_ids:
            self._cache.pop(event_id)

    # -- events -----------------------------------------------------------------------------

    def _row_to_event(self, row: sqlite3.Row) -> StoredEvent:
        version = self._room_versions.get(row["room_id"])
        if version is None:
            raise LookupError(row["room_id"])
        data = json.loads(row["json"])
        return StoredEvent(
            Pdu(row["event_id"], version, data, rejected=row["rejected"] is not None),
            row["stream_pos"], row["state_group"], row["redacted_by"], row["rejected"], row["txn_key"],
        )

    async def _rows_to_events(self, rows: list[sqlite3.Row]) -> list[StoredEvent]:
        out = []
        for row in rows:
            if row["room_id"] not in self._room_versions:
                await self.room_version(row["room_id"])
            cached = self._cache.get(row["event_id"])
            if cached is not None and cached.redacted_by == row["redacted_by"]:
                out.append(cached)
                continue
            ev = self._row_to_event(row)
            self._cache.put(ev.event_id, ev, EVENT_OVERHEAD_BYTES + len(row["json"]))
            out.append(ev)
        return out

    def remember(self, ev: StoredEvent, json_bytes: int) -> None:
        """An event the pipeline has just committed (with the length of its stored JSON): the
        readers right behind it (push evaluation, /sync) find it parsed instead of loading it."""
        self._cache.put(ev.event_id, ev, EVENT_OVERHEAD_BYTES + json_bytes)

    async def get_event(self, event_id: str) -> StoredEvent | None:
        cached = self._cache.get(event_id)
        if cached is not None:
            return cached
        row = await self.db.fetchone(f"SELECT {_EVENT_COLS} FROM events WHERE event_id = ?", (event_id,))
        if row is None:
            return None
        return (await self._rows_to_events([row]))[0]

    async def get_events(self, event_ids: Iterable[str]) -> dict[str, StoredEvent]:
        found: dict[str, StoredEvent] = {}
        missing = []
        for eid in event_ids:
            cached = self._cache.get(eid)
            if cached is not None:
                found[eid] = cached
            else:
                missing.append(eid)
        for i in range(0, len(missing), 500):
            chunk = missing[i:i + 500]
            rows = await self.db.fetchall(
                f"SELECT {_EVENT_COLS} FROM events WHERE event_id IN ({','.join('?' * len(chunk))})", tuple(chunk))
            for ev in await self._rows_to_events(rows):
                found[ev.event_id] = ev
        return found

    # -- timeline windows (named reads for /messages, /context, relations, threads, push) -----

    async def live_window(self, room_id: str, after: int, upto: int, limit: int, *,
                          newest_first: bool = True) -> list[StoredEvent]:
        """Up to `limit` of a room's live events (not outliers, not rejected) in (after, upto],
        newest first (or oldest first): one page of a timeline scan."""
        order = "DESC" if newest_first else "ASC"
        rows = await self.db.fetchall(
            f"SELECT {_EVENT_COLS} FROM events WHERE room_id = ? AND stream_pos > ? AND stream_pos <= ?"
            f" AND {_LIVE} ORDER BY stream_pos {order} LIMIT ?", (room_id, after, upto, int(limit)))
        return await self._rows_to_events(rows)

    # -- federation backfill (core/services/federation/backfill.py) -----------------------

    async def oldest_live(self, room_id: str) -> tuple[int, str, int | None] | None:
        """(stream position, event ID, state group) of the room's oldest live, accepted event."""
        row = await self.db.fetchone(
            "SELECT stream_pos, event_id, state_group FROM events WHERE room_id = ? AND outlier = 0"
            " AND rejected IS NULL ORDER BY stream_pos LIMIT 1", (room_id,))
        return (row[0], row[1], row[2]) if row is not None else None

    async def live_among(self, event_ids: list[str]) -> set[str]:
        """Those of `event_ids` held as live (not outlier) events."""
        if not event_ids:
            return set()
        rows = await self.db.fetchall(
            f"SELECT event_id FROM events WHERE outlier = 0 AND event_id IN ({','.join('?' * len(event_ids))})",
            tuple(event_ids))
        return {r[0] for r in rows}

    @staticmethod
    def lowest_position_job(conn: sqlite3.Connection) -> int:
        """The lowest stream position of any event (backfilled history goes below it)."""
        return conn.execute("SELECT MIN(stream_pos) FROM events").fetchone()[0] or 0

    async def is_outlier(self, event_id: str) -> bool:
        return bool(await self.db.fetchval("SELECT outlier FROM events WHERE event_id = ?", (event_id,)))

    # -- federation: outliers, invites and knocks of rooms held elsewhere ------------------

    @staticmethod
    def has_event_job(conn: sqlite3.Connection, event_id: str) -> bool:
        return conn.execute("SELECT 1 FROM events WHERE event_id = ?", (event_id,)).fetchone() is not None

    @staticmethod
    def set_state_group_job(conn: sqlite3.Connection, event_id: str, group: int) -> None:
        """An outlier gets the state after it (fetched from its server), once."""
        conn.execute("UPDATE events SET state_group = ? WHERE event_id = ? AND state_group IS NULL",
                     (group, event_id))

    @staticmethod
    def membership_of_job(conn: sqlite3.Connection, user_id: str, room_id: str) -> str | None:
        row = conn.execute("SELECT membership FROM room_memberships WHERE user_id = ? AND room_id = ?",
                           (user_id, room_id)).fetchone()
        return row[0] if row else None

    async def membership_event(self, user_id: str, room_id: str) -> tuple[str, str] | None:
        """(membership, event ID) of a user in a room as room_memberships has it: for rooms held
        elsewhere too (an invite or a knock kept without the room's state)."""
        row = await self.db.fetchone(
            "SELECT membership, event_id FROM room_memberships WHERE user_id = ? AND room_id = ?", (user_id, room_id))
        return (row[0], row[1]) if row else None

    async def invite_senders(self, room_id: str) -> list[str]:
        """Senders of the invites our users hold to a room (whose servers can let them in)."""
        rows = await self.db.fetchall(
            "SELECT e.sender FROM room_memberships m JOIN events e ON e.event_id = m.event_id"
            " WHERE m.room_id = ? AND m.membership = 'invite'", (room_id,))
        return [r[0] for r in rows]

    @staticmethod
    def promote_outlier_job(conn: sqlite3.Connection, event_id: str, pos: int, group: int | None,
                            rejected: str | None) -> None:
        """A held outlier becomes part of the room's history at `pos` (backfill)."""
        conn.execute("UPDATE events SET outlier = 0, stream_pos = ?, state_group = ?, rejected = ?"
                     " WHERE event_id = ? AND outlier = 1", (pos, group, rejected, event_id))

    async def live_events_between(self, after: int, upto: int, limit: int, room_id: str | None = None,
                                  ) -> list[StoredEvent]:
        """Up to `limit` live events in (after, upto], oldest first, of every room or of one."""
        where, params = "stream_pos > ? AND stream_pos <= ?", (after, upto)
        if room_id is not None:
            where, params = "room_id = ? AND " + where, (room_id, *params)
        rows = await self.db.fetchall(
            f"SELECT {_EVENT_COLS} FROM events WHERE {where} AND {_LIVE} ORDER BY stream_pos LIMIT ?",
            (*params, int(limit)))
        return await self._rows_to_events(rows)

    async def any_live_in(self, room_id: str, after: int, upto: int) -> bool:
        return await self.db.fetchval(
            f"SELECT 1 FROM events WHERE room_id = ? AND stream_pos > ? AND stream_pos <= ? AND {_LIVE} LIMIT 1",
            (room_id, after, upto)) is not None

    async def events_in_room(self, room_id: str, type_: str | None = None) -> list[StoredEvent]:
        """Every stored event of a room (of one type), in stream order."""
        sql, params = f"SELECT {_EVENT_COLS} FROM events WHERE room_id = ?", (room_id,)
        if type_ is not None:
            sql, params = sql + " AND type = ?", (room_id, type_)
        return await self._rows_to_events(await self.db.fetchall(sql + " ORDER BY stream_pos", params))

    async def live_near_timestamp(self, room_id: str, ts: int, upto: int, *, forwards: bool, offset: int,
                                  limit: int) -> list[StoredEvent]:
        """Live events at or after `ts` (forwards, oldest first) or at or before it (newest first),
        up to stream position `upto`: /timestamp_to_event, a page at `offset`."""
        if forwards:
            cond, order = "origin_server_ts >= ?", "origin_server_ts, stream_pos"
        else:
            cond, order = "origin_server_ts <= ?", "origin_server_ts DESC, stream_pos DESC"
        rows = await self.db.fetchall(
            f"SELECT {_EVENT_COLS} FROM events WHERE room_id = ? AND {cond} AND stream_pos <= ? AND {_LIVE}"
            f" ORDER BY {order} LIMIT ? OFFSET ?", (room_id, ts, upto, int(limit), int(offset)))
        return await self._rows_to_events(rows)

    async def state_group_at(self, room_id: str, pos: int) -> int | None:
        """The state group after the room's last live event at or before stream position `pos`."""
        return await self.db.fetchval(
            f"SELECT state_group FROM events WHERE room_id = ? AND stream_pos <= ? AND {_LIVE}"
            " AND state_group IS NOT NULL ORDER BY stream_pos DESC LIMIT 1", (room_id, pos))

    async def state_groups_at(self, points: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int | None]:
        """`state_group_at` for many (room_id, pos) at once (one query per 100)."""
        out: dict[tuple[str, int], int | None] = {pt: None for pt in points}
        term = ("SELECT ?, ?, (SELECT state_group FROM events WHERE room_id = ? AND stream_pos <= ?"
                f" AND {_LIVE} AND state_group IS NOT NULL ORDER BY stream_pos DESC LIMIT 1)")
        todo = list(out)
        for i in range(0, len(todo), 100):
            chunk = todo[i:i + 100]
            rows = await self.db.fetchall(" UNION ALL ".join([term] * len(chunk)),
                                          tuple(x for r, pos in chunk for x in (r, pos, r, pos)))
            for room_id, pos, group in rows:
                out[(room_id, pos)] = group
        return out

    async def latest_of_types(self, points: Sequence[tuple[str, int]], types: Sequence[str]) -> dict[str, int | None]:
        """For each (room_id, upto): the stream position of the room's newest live event of one of
        `types` at or before `upto` (sliding sync's bump stamps; one query per 100 rooms)."""
        out: dict[str, int | None] = {room_id: None for room_id, _ in points}
        in_types = ",".join("?" * len(types))
        term = (f"SELECT ?, (SELECT stream_pos FROM events WHERE room_id = ? AND stream_pos <= ? AND {_LIVE}"
                f" AND type IN ({in_types}) ORDER BY stream_pos DESC LIMIT 1)")
        todo = list(points)
        for i in range(0, len(todo), 100):
            chunk = todo[i:i + 100]
            rows = await self.db.fetchall(" UNION ALL ".join([term] * len(chunk)),
                                          tuple(x for r, pos in chunk for x in (r, r, pos, *types)))
            for room_id, pos in rows:
                out[room_id] = pos
        return out

    async def current_state_ids_of_types(self, room_ids: Sequence[str], types: Sequence[str],
                                         ) -> list[tuple[str, str, str, str]]:
        """(room_id, type, state_key, event_id) of the current state of many rooms, only `types`
        (500 rooms per query)."""
        out: list[tuple[str, str, str, str]] = []
        room_ids = list(room_ids)
        for i in range(0, len(room_ids), 500):
            chunk = room_ids[i:i + 500]
            rows = await self.db.fetchall(
                "SELECT room_id, type, state_key, event_id FROM current_state"
                f" WHERE room_id IN ({','.join('?' * len(chunk))}) AND type IN ({','.join('?' * len(types))})",
                (*chunk, *types))
            out += [(r[0], r[1], r[2], r[3]) for r in rows]
        return out

    async def newest_event_per_room_between(self, after: int, upto: int) -> dict[str, int]:
        """Room → stream position of its newest event in (after, upto], for the rooms that have one."""
        rows = await self.db.fetchall(
            "SELECT room_id, MAX(stream_pos) FROM events WHERE stream_pos > ? AND stream_pos <= ? GROUP BY room_id",
            (after, upto))
        return {r[0]: r[1] for r in rows}

    async def room_ids_with_events_between(self, after: int, upto: int) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT DISTINCT room_id FROM events WHERE stream_pos > ? AND stream_pos <= ?", (after, upto))
        return {r[0] for r in rows}

    # -- relations --------------------------------------------------------------------------

    async def live_children_of(self, room_id: str, parent_ids: Sequence[str]) -> list[str]:
        """IDs of the room's live events that relate to any of `parent_ids`."""
        rows = await self.db.fetchall(
            f"SELECT event_id FROM events WHERE room_id = ? AND relates_to IN ({','.join('?' * len(parent_ids))})"
            f" AND {_LIVE}", (room_id, *parent_ids))
        return [r[0] for r in rows]

    async def thread_roots(self, room_id: str, user_id: str, upto: int, latest_at_most: int, limit: int,
                           ) -> list[tuple[str, int, int]]:
        """(root event ID, stream position of its latest reply, replies by `user_id`) of the room's
        threads, the most recently active first, only threads whose latest reply is at or before
        `latest_at_most` (replies after `upto` are not counted)."""
        rows = await self.db.fetchall(
            "SELECT relates_to, MAX(stream_pos) AS latest, SUM(sender = ?) AS mine FROM events"
            f" WHERE room_id = ? AND rel_type = 'm.thread' AND {_LIVE} AND stream_pos <= ?"
            " GROUP BY relates_to HAVING latest <= ? ORDER BY latest DESC LIMIT ?",
            (user_id, room_id, upto, latest_at_most, limit))
        return [(r[0], r[1], r[2]) for r in rows]

    async def aggregated_relations(self, parent_ids: Sequence[str]) -> list[tuple[str, str, str, str, str, int]]:
        """(parent, rel_type, event_id, sender, type, stream_pos) of the unredacted, unrejected
        m.thread, m.replace and m.reference events relating to any of `parent_ids`, in stream
        order (500 parents per query)."""
        rows: list = []
        for i in range(0, len(parent_ids), 500):
            chunk = parent_ids[i:i + 500]
            rows += await self.db.fetchall(
                "SELECT relates_to, rel_type, event_id, sender, type, stream_pos FROM events"
                f" WHERE relates_to IN ({','.join('?' * len(chunk))})"
                " AND rel_type IN ('m.thread', 'm.replace', 'm.reference') AND rejected IS NULL"
                " AND redacted_by IS NULL ORDER BY stream_pos", tuple(chunk))
        return rows

    async def latest_in_rooms(self, ranges: Sequence[tuple[str, int, int]], limit: int,
                              ) -> dict[str, list[StoredEvent]]:
        """For each (room_id, after, upto): the newest `limit` live (not outlier, not rejected)
        events in (after, upto], newest first. One query for many rooms: /sync's timelines."""
        out: dict[str, list[StoredEvent]] = {room_id: [] for room_id, _, _ in ranges}
        # IDs first: the hot events are cached, and their JSON need not be read again.
        term = ("SELECT * FROM (SELECT event_id, room_id, redacted_by FROM events WHERE room_id = ?"
                " AND stream_pos > ? AND stream_pos <= ? AND outlier = 0 AND rejected IS NULL"
                f" ORDER BY stream_pos DESC LIMIT {int(limit)})")
        for i in range(0, len(ranges), 100):  # SQLite allows 500 terms in a compound SELECT
            chunk = ranges[i:i + 100]
            rows = await self.db.fetchall(" UNION ALL ".join([term] * len(chunk)),
                                          tuple(x for r in chunk for x in r))
            missing = []
            for event_id, room_id, redacted_by in rows:
                cached = self._cache.get(event_id)
                if cached is not None and cached.redacted_by == redacted_by:
                    out[room_id].append(cached)
                else:
                    missing.append(event_id)
            for j in range(0, len(missing), 500):
                ids = missing[j:j + 500]
                full = await self.db.fetchall(
                    f"SELECT {_EVENT_COLS} FROM events WHERE event_id IN ({','.join('?' * len(ids))})", tuple(ids))
                for row, ev in zip(full, await self._rows_to_events(full)):
                    out[row["room_id"]].append(ev)
        for evs in out.values():  # newest first, whichever way each event was read
            evs.sort(key=_newest_first)
        return out

    async def room_events_after(self, room_id: str, after: int, upto: int | None, limit: int) -> list[StoredEvent]:
        """Up to `limit` of a room's events in (after, upto] (no upper bound when upto is None),
        oldest first, rejected events left out: a room read from start to end in batches."""
        sql = f"SELECT {_EVENT_COLS} FROM events WHERE room_id = ? AND stream_pos > ? AND rejected IS NULL"
        params: tuple = (room_id, after)
        if upto is not None:
            sql += " AND stream_pos <= ?"
            params += (upto,)
        rows = await self.db.fetchall(sql + " ORDER BY stream_pos LIMIT ?", (*params, limit))
        return await self._rows_to_events(rows)

    def invalidate(self, event_id: str) -> None:
        self._cache.pop(event_id)

    async def event_id_for_txn(self, txn_key: str) -> str | None:
        return await self.db.fetchval("SELECT event_id FROM events WHERE txn_key = ?", (txn_key,))

    async def forward_extremities(self, room_id: str) -> list[str]:
        rows = await self.db.fetchall("SELECT event_id FROM forward_extremities WHERE room_id = ?", (room_id,))
        return [r[0] for r in rows]

    # -- current state ----------------------------------------------------------------------

    async def current_state_ids(self, room_id: str) -> dict[StateKey, str]:
        rows = await self.db.fetchall(
            "SELECT type, state_key, event_id FROM current_state WHERE room_id = ?", (room_id,))
        return {(r[0], r[1]): r[2] for r in rows}

    async def current_state_event_id(self, room_id: str, type_: str, state_key: str) -> str | None:
        return await self.db.fetchval(
            "SELECT event_id FROM current_state WHERE room_id = ? AND type = ? AND state_key = ?",
            (room_id, type_, state_key))

    async def current_state_event(self, room_id: str, type_: str, state_key: str = "") -> Pdu | None:
        eid = await self.current_state_event_id(room_id, type_, state_key)
        if eid is None:
            return None
        ev = await self.get_event(eid)
        return ev.pdu if ev else None

    async def current_state_of_type(self, room_id: str, type_: str) -> list[tuple[str, str]]:
        """(state_key, event_id) of the room's current state events of one type."""
        rows = await self.db.fetchall(
            "SELECT state_key, event_id FROM current_state WHERE room_id = ? AND type = ?", (room_id, type_))
        return [(r[0], r[1]) for r in rows]

    async def member_count(self, room_id: str, membership: str = "join") -> int:
        return await self.db.fetchval(
            "SELECT COUNT(*) FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND membership = ?",
            (room_id, membership)) or 0

    async def has_annotation(self, relates_to: str, sender: str, event_type: str, key: str) -> bool:
        """Whether `sender` already annotated `relates_to` with an unredacted `event_type`
        event of this key (index events_relates)."""
        return await self.db.fetchval(
            "SELECT 1 FROM events WHERE relates_to = ? AND rel_type = 'm.annotation' AND sender = ? AND type = ?"
            f" AND redacted_by IS NULL AND {_LIVE} AND json_extract(json, '$.content.\"m.relates_to\".key') = ?"
            " LIMIT 1", (relates_to, sender, event_type, key)) is not None

    async def membership_history(self, user_id: str, room_ids: Collection[str]) -> dict[str, list[tuple[int, str]]]:
        """room_id → the user's live membership events there as (stream_pos, membership), oldest
        first (index events_member_history, migration 0190)."""
        out: dict[str, list[tuple[int, str]]] = {}
        ids = list(room_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows = await self.db.fetchall(
                "SELECT room_id, stream_pos, json_extract(json, '$.content.membership') FROM events"
                f" WHERE type = 'm.room.member' AND state_key = ? AND room_id IN ({','.join('?' * len(chunk))})"
                f" AND {_LIVE} ORDER BY stream_pos", (user_id, *chunk))
            for room_id, pos, membership in rows:
                out.setdefault(room_id, []).append((pos, membership if isinstance(membership, str) else ""))
        return out

    async def membership(self, room_id: str, user_id: str) -> str | None:
        return await self.db.fetchval(
            "SELECT membership FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND state_key = ?",
            (room_id, user_id))

    async def members(self, room_id: str, membership: str | None = "join") -> list[str]:
        if membership is None:
            rows = await self.db.fetchall(
                "SELECT state_key FROM current_state WHERE room_id = ? AND type = 'm.room.member'", (room_id,))
        else:
            rows = await self.db.fetchall(
                "SELECT state_key FROM current_state WHERE room_id = ? AND type = 'm.room.member' AND membership = ?",
                (room_id, membership))
        return [r[0] for r in rows]

    # -- writes (run inside a writer job) ---------------------------------------------------

    @staticmethod
    def insert_room_job(conn: sqlite3.Connection, room_id: str, version: str, creator: str, ts: int) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO rooms (room_id, room_version, creator, created_ts) VALUES (?, ?, ?, ?)",
            (room_id, version, creator, ts))

    @staticmethod
    def insert_event_job(conn: sqlite3.Connection, pdu: Pdu, stream_pos: int, state_group: int | None,
                         json_text: str, txn_key: str | None, rejected: str | None = None,
                         outlier: bool = False) -> None:
        rel = pdu.content.get("m.relates_to")
        rel_type = relates_to = None
        if isinstance(rel, dict) and isinstance(rel.get("event_id"), str):
            relates_to = rel["event_id"]
            rel_type = rel.get("rel_type") if isinstance(rel.get("rel_type"), str) else None
            if rel_type is None and isinstance(rel.get("m.in_reply_to"), dict):
                rel_type = None
        conn.execute(
            "INSERT INTO events (stream_pos, event_id, room_id, type, state_key, sender, origin_server_ts,"
            " depth, json, state_group, rejected, outlier, rel_type, relates_to, txn_key)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (stream_pos, pdu.event_id, pdu.room_id, pdu.type, pdu.state_key, pdu.sender,
             pdu.origin_server_ts, pdu.depth, json_text, state_group, rejected, int(outlier),
             rel_type, relates_to, txn_key))
        # One statement per table, not one per row: each statement hands the GIL to the event
        # loop and waits to get it back, which under load cost more than the insert itself.
        for table, column, refs in (("event_edges", "prev_event_id", pdu.prev_event_ids),
                                    ("event_auth", "auth_id", pdu.auth_event_ids)):
            if refs:
                conn.execute(f"INSERT OR IGNORE INTO {table} (event_id, {column}) VALUES "
                             + ", ".join(["(?, ?)"] * len(refs)),
                             [x for ref in refs for x in (pdu.event_id, ref)])

    @staticmethod
    def set_forward_extremities_job(conn: sqlite3.Connection, room_id: str, new_event: str, prevs: list[str]) -> None:
        conn.executemany("DELETE FROM forward_extremities WHERE room_id = ? AND event_id = ?",
                         [(room_id, p) for p in prevs])
        conn.execute("INSERT OR IGNORE INTO forward_extremities (room_id, event_id) VALUES (?, ?)", (room_id, new_event))

    @staticmethod
    def set_current_state_job(conn: sqlite3.Connection, room_id: str, key: StateKey, event_id: str,
                              membership: str | None) -> None:
        conn.execute(
            "INSERT INTO current_state (room_id, type, state_key, event_id, membership) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id,"
            " membership = excluded.membership",
            (room_id, key[0], key[1], event_id, membership))

    @staticmethod
    def set_membership_job(conn: sqlite3.Connection, user_id: str, room_id: str, membership: str,
                           event_id: str, stream_pos: int) -> None:
        conn.execute(
            "INSERT INTO room_memberships (user_id, room_id, membership, event_id, stream_pos, forgotten)"
            " VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (user_id, room_id) DO UPDATE SET"
            " membership = excluded.membership, event_id = excluded.event_id,"
            " stream_pos = excluded.stream_pos, forgotten = 0",
            (user_id, room_id, membership, event_id, stream_pos))

    @staticmethod
    def apply_current_state_changes_job(conn: sqlite3.Connection, room_id: str,
                                        changes: dict[StateKey, tuple[str, str | None] | None], pos: int) -> None:
        """Current state moved by more than one key (state resolution after a federated event):
        each key set to (event ID, membership) or removed (None); memberships follow."""
        for key, change in changes.items():
            if change is None:
                conn.execute("DELETE FROM current_state WHERE room_id = ? AND type = ? AND state_key = ?",
                             (room_id, key[0], key[1]))
                continue
            EventStore.set_current_state_job(conn, room_id, key, change[0], change[1])
            if key[0] == "m.room.member":
                EventStore.set_membership_job(conn, key[1], room_id, change[1] or "leave", change[0], pos)

    @staticmethod
    def mark_redacted_job(conn: sqlite3.Connection, target_id: str, redaction_id: str) -> None:
        conn.execute("UPDATE events SET redacted_by = ? WHERE event_id = ? AND redacted_by IS NULL",
                     (redaction_id, target_id))
