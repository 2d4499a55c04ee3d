-- 0061_event_search: full-text index for /search (modules/search), fed by triggers on events so
-- that indexing is part of the transaction that persists the event and nothing is lost.
-- rowid = events.stream_pos; key is the searched field (content.body, content.name, content.topic).
CREATE VIRTUAL TABLE event_search USING fts5(
    key UNINDEXED,
    value,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER event_search_insert AFTER INSERT ON events
WHEN NEW.outlier = 0 AND NEW.rejected IS NULL AND NEW.redacted_by IS NULL
     AND NEW.type IN ('m.room.message', 'm.room.name', 'm.room.topic')
BEGIN
    INSERT INTO event_search (rowid, key, value)
    SELECT NEW.stream_pos, k, v FROM (
        SELECT 'content.body' AS k, json_extract(NEW.json, '$.content.body') AS v
        WHERE NEW.type = 'm.room.message' AND json_type(NEW.json, '$.content.body') = 'text'
        UNION ALL
        SELECT 'content.name', json_extract(NEW.json, '$.content.name')
        WHERE NEW.type = 'm.room.name' AND NEW.state_key = '' AND json_type(NEW.json, '$.content.name') = 'text'
        UNION ALL
        SELECT 'content.topic', COALESCE(
            (SELECT json_extract(t.value, '$.body') FROM json_each(NEW.json, '$.content."m.topic"."m.text"') AS t
             WHERE json_type(t.value, '$.body') = 'text'
               AND COALESCE(json_extract(t.value, '$.mimetype'), 'text/plain') = 'text/plain' LIMIT 1),
            CASE WHEN json_type(NEW.json, '$.content.topic') = 'text'
                 THEN json_extract(NEW.json, '$.content.topic') END)
        WHERE NEW.type = 'm.room.topic' AND NEW.state_key = ''
    ) WHERE v IS NOT NULL AND v != '';
END;

-- A redacted or rejected event is no longer searchable.
CREATE TRIGGER event_search_redact AFTER UPDATE OF redacted_by, rejected ON events
WHEN NEW.redacted_by IS NOT NULL OR NEW.rejected IS NOT NULL
BEGIN
    DELETE FROM event_search WHERE rowid = NEW.stream_pos;
END;

-- Events persisted before this migration.
INSERT INTO event_search (rowid, key, value)
SELECT stream_pos, 'content.body', json_extract(json, '$.content.body') FROM events
WHERE type = 'm.room.message' AND outlier = 0 AND rejected IS NULL AND redacted_by IS NULL
  AND json_type(json, '$.content.body') = 'text' AND json_extract(json, '$.content.body') != '';
INSERT INTO event_search (rowid, key, value)
SELECT stream_pos, 'content.name', json_extract(json, '$.content.name') FROM events
WHERE type = 'm.room.name' AND state_key = '' AND outlier = 0 AND rejected IS NULL AND redacted_by IS NULL
  AND json_type(json, '$.content.name') = 'text' AND json_extract(json, '$.content.name') != '';
INSERT INTO event_search (rowid, key, value)
SELECT stream_pos, 'content.topic', json_extract(json, '$.content.topic') FROM events
WHERE type = 'm.room.topic' AND state_key = '' AND outlier = 0 AND rejected IS NULL AND redacted_by IS NULL
  AND json_type(json, '$.content.topic') = 'text' AND json_extract(json, '$.content.topic') != '';
