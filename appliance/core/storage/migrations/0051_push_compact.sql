-- 0051_push_compact: notification rows of integers. A row is written for every local member
-- of a room and every message that notifies them, so it was about half of the database:
-- user, room and event IDs as text (the event's stream position already names the event),
-- the actions JSON (nearly always one of a handful), a rowid and two indexes.
-- Now: user and room as small integers (push_ids), the actions by reference (push_actions),
-- the event by its stream position alone (events.stream_pos), no rowid.

CREATE TABLE push_ids (
    nid             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE          -- a user ID or a room ID
);

CREATE TABLE push_actions (
    id              INTEGER PRIMARY KEY,
    json            TEXT NOT NULL UNIQUE          -- a JSON list of actions
);

CREATE TABLE push_notifs (
    user_nid        INTEGER NOT NULL,             -- push_ids
    stream_pos      INTEGER NOT NULL,             -- the event's stream position (events.stream_pos)
    room_nid        INTEGER NOT NULL,             -- push_ids
    thread_id       TEXT NOT NULL DEFAULT '',     -- thread root event ID; '' for the main timeline
    highlight       INTEGER NOT NULL,
    actions         INTEGER NOT NULL,             -- push_actions
    ts              INTEGER NOT NULL,
    PRIMARY KEY (user_nid, stream_pos)
) WITHOUT ROWID;
-- Covering for the unread counts of one room (what /sync asks on every response).
CREATE INDEX push_notifs_room ON push_notifs(user_nid, room_nid, stream_pos, highlight, thread_id);

INSERT OR IGNORE INTO push_ids (id) SELECT DISTINCT user_id FROM push_notifications;
INSERT OR IGNORE INTO push_ids (id) SELECT DISTINCT room_id FROM push_notifications;
INSERT OR IGNORE INTO push_actions (json) SELECT DISTINCT actions FROM push_notifications;
INSERT INTO push_notifs (user_nid, stream_pos, room_nid, thread_id, highlight, actions, ts)
    SELECT u.nid, n.stream_pos, r.nid, n.thread_id, n.highlight, a.id, n.ts
    FROM push_notifications n
    JOIN push_ids u ON u.id = n.user_id
    JOIN push_ids r ON r.id = n.room_id
    JOIN push_actions a ON a.json = n.actions;
DROP TABLE push_notifications;
