-- 0003_client_streams: account data and receipts, each change at a stream position.
CREATE TABLE account_data (
    user_id         TEXT NOT NULL,
    room_id         TEXT NOT NULL DEFAULT '',     -- '' for global account data
    type            TEXT NOT NULL,
    content         TEXT NOT NULL,                -- canonical JSON
    stream_pos      INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_pos ON account_data(user_id, stream_pos);

CREATE TABLE receipts (
    room_id         TEXT NOT NULL,
    receipt_type    TEXT NOT NULL,                -- m.read, m.read.private
    user_id         TEXT NOT NULL,
    thread_id       TEXT NOT NULL DEFAULT '',     -- '' for unthreaded
    event_id        TEXT NOT NULL,
    ts              INTEGER NOT NULL,
    stream_pos      INTEGER NOT NULL,
    PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
);
CREATE INDEX receipts_pos ON receipts(room_id, stream_pos);

-- The single stream counter survives restarts through the tables' max positions; this row
-- records positions used by changes that leave no row behind (deletions).
CREATE TABLE stream_position (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    pos             INTEGER NOT NULL
);
INSERT INTO stream_position (id, pos) VALUES (1, 0);
