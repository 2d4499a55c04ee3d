"""Feeds the full-text index (`event_search`) in batches, behind the events.

Indexing each message in its own transaction made FTS5 write a new segment and its structure
record every time (about 40 % of the pages a message wrote). The indexer instead indexes every
event above its high-water mark (`search_progress`) in one write job: shortly after events
arrive (a batch per `delay`), and always before a search runs, so a search sees every event
that was acknowledged before it. The mark is in the same database, so nothing is skipped after
a crash: the next batch starts where the last committed one ended.

Which events and fields are indexed is unchanged from the trigger it replaces: `content.body`
of m.room.message, `content.name` of m.room.name and the plain-text topic of m.room.topic
(`m.topic` text/plain first, else `topic`), when they are strings; never outliers, rejected or
redacted events (a later redaction deletes the row: trigger `event_search_redact`).
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3

from ..storage.database import Database

log = logging.getLogger(__name__)

BATCH_EVENTS = 5000  # stream positions per write job, so one job never holds the writer long

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


def index_pending_job(conn: sqlite3.Connection) -> int:
    """Index the events above the high-water mark (at most BATCH_EVENTS positions); returns
    how many positions are still pending after this batch."""
    (done,) = conn.execute("SELECT pos FROM search_progress WHERE id = 1").fetchone()
    (top,) = conn.execute("SELECT COALESCE(MAX(stream_pos), 0) FROM events").fetchone()
    if top <= done:
        return 0
    hi = min(top, done + BATCH_EVENTS)
    conn.execute(_INDEX_SQL, {"lo": done, "hi": hi})
    conn.execute("UPDATE search_progress SET pos = ? WHERE id = 1", (hi,))
    return top - hi


class SearchIndexer:
    def __init__(self, db: Database, delay: float = 0.5):
        self.db = db
        self.delay = delay
        self._arrived = asyncio.Event()

    def note(self, _persisted: object = None) -> None:
        """An event was persisted (a pipeline listener): index it with the next batch."""
        self._arrived.set()

    async def catch_up(self) -> None:
        """Index everything persisted so far (before a search runs)."""
        while await self.db.write(index_pending_job):
            pass

    async def run(self) -> None:
        """Background loop (Hearth.background): a batch at start, then one per `delay` while
        events keep arriving."""
        while True:
            try:
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next batch retries from the same mark; searches catch up anyway
                log.exception("search indexing failed")
            await self._arrived.wait()
            await asyncio.sleep(self.delay)
            self._arrived.clear()
