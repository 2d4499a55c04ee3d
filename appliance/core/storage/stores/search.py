"""The full-text index (`event_search`, FTS5, migrations 0061 and 0110): fed in batches by the
search indexer (services/search_index.py), read by /search (services/search.py).

Which events and fields are indexed: `content.body` of m.room.message, `content.name` of
m.room.name and the plain-text topic of m.room.topic (`m.topic` text/plain first, else `topic`),
when they are strings; never outliers, rejected or redacted events (a later redaction deletes the
row: trigger `event_search_redact`).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from ..database import Database

_INDEX_SQL = """
INSERT INTO event_search (rowid, key, value)
SELECT pos, k, v FROM (
    SELECT e.stream_pos AS pos, 'content.body' AS k, json_extract(e.json, '$.content.body') AS v
    FROM events e
    WHERE e.stream_pos > :lo AND e.stream_pos <= :hi AND e.type = 'm.room.message'
      AND e.outlier = 0 AND e.rejected IS NULL AND e.redacted_by IS NULL
      AND json_type(e.json, '$.content.body') = 'text'
    UNION ALL
    SELECT e.stream_pos, 'content.name', json_extract(e.json, '$.content.name')
    FROM events e
    WHERE e.stream_pos > :lo AND e.stream_pos <= :hi AND e.type = 'm.room.name' AND e.state_key = ''
      AND e.outlier = 0 AND e.rejected IS NULL AND e.redacted_by IS NULL
      AND json_type(e.json, '$.content.name') = 'text'
    UNION ALL
    SELECT e.stream_pos, 'content.topic', COALESCE(
        (SELECT json_extract(t.value, '$.body') FROM json_each(e.json, '$.content."m.topic"."m.text"') AS t
         WHERE json_type(t.value, '$.body') = 'text'
           AND COALESCE(json_extract(t.value, '$.mimetype'), 'text/plain') = 'text/plain' LIMIT 1),
        CASE WHEN json_type(e.json, '$.content.topic') = 'text' THEN json_extract(e.json, '$.content.topic') END)
    FROM events e
    WHERE e.stream_pos > :lo AND e.stream_pos <= :hi AND e.type = 'm.room.topic' AND e.state_key = ''
      AND e.outlier = 0 AND e.rejected IS NULL AND e.redacted_by IS NULL
) WHERE v IS NOT NULL AND v != ''
"""

Hit = tuple[str, int, float]  # event ID, stream position, bm25 score (higher is better)


class SearchStore:
    def __init__(self, db: Database):
        self.db = db

    # -- the index ------------------------------------------------------------------------

    @staticmethod
    def index_job(conn: sqlite3.Connection, lo: int, hi: int) -> None:
        """Index the events at stream positions in (lo, hi]."""
        conn.execute(_INDEX_SQL, {"lo": lo, "hi": hi})

    @staticmethod
    def newest_event_job(conn: sqlite3.Connection) -> int:
        """The stream position of the newest event (0 without any)."""
        return conn.execute("SELECT COALESCE(MAX(stream_pos), 0) FROM events").fetchone()[0]

    async def any_event_between(self, after: int, upto: int) -> bool:
        return await self.db.fetchval(
            "SELECT 1 FROM events WHERE stream_pos > ? AND stream_pos <= ? LIMIT 1", (after, upto)) is not None

    # -- searching ----------------------------------------------------------------------------

    async def memberships(self, user_id: str) -> list[tuple[str, str, int]]:
        """(room_id, membership, stream_pos) of the rooms the user is joined to, has left or was
        banned from, and has not forgotten."""
        rows = await self.db.fetchall(
            "SELECT room_id, membership, stream_pos FROM room_memberships"
            " WHERE user_id = ? AND forgotten = 0 AND membership IN ('join', 'leave', 'ban')", (user_id,))
        return [(r[0], r[1], r[2]) for r in rows]

    @staticmethod
    def _matching(match: str, keys: Sequence[str], rooms: Mapping[str, int]) -> tuple[str, list[Any]]:
        """FROM … WHERE for the indexed live events matching `match` in `keys`, each room up to
        its stream position (a parameter per room keeps the query exact)."""
        room_cond = " OR ".join("(e.room_id = ? AND e.stream_pos <= ?)" for _ in rooms)
        sql = (f"FROM event_search s JOIN events e ON e.stream_pos = s.rowid"
               f" WHERE event_search MATCH ? AND s.key IN ({','.join('?' * len(keys))}) AND ({room_cond})"
               f" AND e.outlier = 0 AND e.rejected IS NULL AND e.redacted_by IS NULL")
        return sql, [match, *keys, *(x for room_id, upto in rooms.items() for x in (room_id, upto))]

    async def count(self, match: str, keys: Sequence[str], rooms: Mapping[str, int]) -> int:
        """How many events match (an event matching in several keys counts once)."""
        base, params = self._matching(match, keys, rooms)
        return await self.db.fetchval(f"SELECT COUNT(DISTINCT e.stream_pos) {base}", tuple(params)) or 0

    async def by_rank(self, match: str, keys: Sequence[str], rooms: Mapping[str, int], limit: int,
                      offset: int) -> list[Hit]:
        """Matches, best first (newest first among equals), from `offset` on."""
        base, params = self._matching(match, keys, rooms)
        rows = await self.db.fetchall(
            f"SELECT e.event_id, e.stream_pos, -bm25(event_search) AS score {base}"
            " ORDER BY score DESC, e.stream_pos DESC LIMIT ? OFFSET ?", (*params, limit, offset))
        return [(r[0], r[1], r[2]) for r in rows]

    async def by_recency(self, match: str, keys: Sequence[str], rooms: Mapping[str, int], limit: int,
                         below: int | None) -> list[Hit]:
        """Matches, newest first, below stream position `below` when given."""
        base, params = self._matching(match, keys, rooms)
        if below is not None:
            base += " AND e.stream_pos < ?"
            params.append(below)
        rows = await self.db.fetchall(
            f"SELECT e.event_id, e.stream_pos, -bm25(event_search) AS score {base}"
            " ORDER BY e.stream_pos DESC LIMIT ?", (*params, limit))
        return [(r[0], r[1], r[2]) for r in rows]
