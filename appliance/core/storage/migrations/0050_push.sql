-- 0050_push: notifications from push rules (for /sync counts, /notifications and pushers),
-- the evaluator's progress through the stream, and HTTP pushers with their delivery position.
CREATE TABLE push_notifications (
    user_id         TEXT NOT NULL,
    stream_pos      INTEGER NOT NULL,             -- the event's stream position
    room_id         TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    thread_id       TEXT NOT NULL DEFAULT '',     -- thread root event ID; '' for the main timeline
    highlight       INTEGER NOT NULL,
    actions         TEXT NOT NULL,                -- JSON list
    ts              INTEGER NOT NULL,
    PRIMARY KEY (user_id, stream_pos)
);
CREATE INDEX push_notifications_room ON push_notifications(user_id, room_id, stream_pos);

-- Every event at or below `pos` has been evaluated (a restart continues from here).
CREATE TABLE push_progress (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    pos             INTEGER NOT NULL
);
INSERT INTO push_progress (id, pos) VALUES (1, 0);

CREATE TABLE pushers (
    user_id             TEXT NOT NULL,
    app_id              TEXT NOT NULL,
    pushkey             TEXT NOT NULL,
    kind                TEXT NOT NULL,             -- http
    app_display_name    TEXT NOT NULL,
    device_display_name TEXT NOT NULL,
    profile_tag         TEXT,
    lang                TEXT NOT NULL,
    data                TEXT NOT NULL,             -- JSON object, with url
    device_id           TEXT,                      -- the device that set it: deleted with it
    pushkey_ts          INTEGER NOT NULL,          -- seconds
    last_pos            INTEGER NOT NULL,          -- notifications up to here were delivered
    PRIMARY KEY (app_id, pushkey, user_id)
);
CREATE INDEX pushers_user ON pushers(user_id);
