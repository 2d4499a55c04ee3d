-- 0110_search_index_batched: the full-text index is fed in batches by the search indexer
-- (services/search_index.py) instead of a trigger in every event's transaction. In its own
-- transaction, FTS5 wrote a new segment and its structure record for every message: ~8 of the
-- ~20 pages each message wrote to the write-ahead log. The indexer's high-water mark lives here,
-- in the same database, so what is not yet indexed is known after any crash.
DROP TRIGGER IF EXISTS event_search_insert;

CREATE TABLE search_progress (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pos INTEGER NOT NULL  -- every event at or below this stream position has been indexed
);

-- Everything persisted so far went through the trigger.
INSERT INTO search_progress (id, pos) SELECT 1, COALESCE(MAX(stream_pos), 0) FROM events;
