-- 0281_push_notifs_by_room: notification rows keyed by (user, room, stream position), one
-- B-tree instead of two. The table was keyed by (user, stream position) with a covering index
-- by (user, room, stream position) for the unread counts, so a notification for each of a
-- room's members wrote two pages per member to the write-ahead log (~4 of a commit's 21 pages
-- in the household benchmark). The counts /sync asks for on every response read the key
-- itself now; what wants a user's rows in stream order across rooms (a pusher catching up,
-- /notifications, pruning) reads that user's rows, which retention keeps to weeks.
CREATE TABLE push_notifs_by_room (
    user_nid        INTEGER NOT NULL,             -- push_ids
    room_nid        INTEGER NOT NULL,             -- push_ids
    stream_pos      INTEGER NOT NULL,             -- the event's stream position (events.stream_pos)
    thread_id       TEXT NOT NULL DEFAULT '',     -- thread root event ID; '' for the main timeline
    highlight       INTEGER NOT NULL,
    actions         INTEGER NOT NULL,             -- push_actions
    ts              INTEGER NOT NULL,
    PRIMARY KEY (user_nid, room_nid, stream_pos)
) WITHOUT ROWID;
INSERT INTO push_notifs_by_room (user_nid, room_nid, stream_pos, thread_id, highlight, actions, ts)
    SELECT user_nid, room_nid, stream_pos, thread_id, highlight, actions, ts FROM push_notifs
    ORDER BY user_nid, room_nid, stream_pos;
DROP TABLE push_notifs;
ALTER TABLE push_notifs_by_room RENAME TO push_notifs;
