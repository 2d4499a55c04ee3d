-- 0002_events: the room DAG, state snapshots with delta chains, and current state.
CREATE TABLE rooms (
    room_id         TEXT PRIMARY KEY,
    room_version    TEXT NOT NULL,
    creator         TEXT,
    is_public       INTEGER NOT NULL DEFAULT 0,   -- listed in the public room directory
    created_ts      INTEGER NOT NULL
);

-- Every persisted event, local or remote. stream_pos is the position on the stream: the
-- order clients see. json is the full PDU exactly as signed.
CREATE TABLE events (
    stream_pos      INTEGER PRIMARY KEY,
    event_id        TEXT NOT NULL UNIQUE,
    room_id         TEXT NOT NULL,
    type            TEXT NOT NULL,
    state_key       TEXT,
    sender          TEXT NOT NULL,
    origin_server_ts INTEGER NOT NULL,
    depth           INTEGER NOT NULL,
    json            TEXT NOT NULL,
    state_group     INTEGER,                     -- state after this event
    rejected        TEXT,                        -- NULL, or why the event was rejected
    outlier         INTEGER NOT NULL DEFAULT 0,
    redacted_by     TEXT,                        -- event ID of the redaction that applies
    rel_type        TEXT,                        -- m.relates_to.rel_type
    relates_to      TEXT,                        -- m.relates_to.event_id
    txn_key         TEXT                         -- "user|device|txn_id" of a local send
);
CREATE INDEX events_room_pos ON events(room_id, stream_pos);
CREATE INDEX events_relates ON events(relates_to, rel_type) WHERE relates_to IS NOT NULL;
CREATE INDEX events_room_ts ON events(room_id, origin_server_ts);
CREATE UNIQUE INDEX events_txn ON events(txn_key) WHERE txn_key IS NOT NULL;

CREATE TABLE event_edges (
    event_id        TEXT NOT NULL,
    prev_event_id   TEXT NOT NULL,
    PRIMARY KEY (event_id, prev_event_id)
);
CREATE INDEX event_edges_prev ON event_edges(prev_event_id);

CREATE TABLE event_auth (
    event_id        TEXT NOT NULL,
    auth_id         TEXT NOT NULL,
    PRIMARY KEY (event_id, auth_id)
);

CREATE TABLE forward_extremities (
    room_id         TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    PRIMARY KEY (room_id, event_id)
);

-- A state group is a snapshot of room state. It stores either all entries (prev_group NULL)
-- or only the entries that differ from prev_group; chain_length bounds the delta chain.
CREATE TABLE state_groups (
    id              INTEGER PRIMARY KEY,
    room_id         TEXT NOT NULL,
    prev_group      INTEGER REFERENCES state_groups(id),
    chain_length    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE state_group_entries (
    state_group     INTEGER NOT NULL,
    type            TEXT NOT NULL,
    state_key       TEXT NOT NULL,
    event_id        TEXT,                         -- NULL in a delta: the key was removed
    PRIMARY KEY (state_group, type, state_key)
);

-- The room's current state, materialised for fast reads.
CREATE TABLE current_state (
    room_id         TEXT NOT NULL,
    type            TEXT NOT NULL,
    state_key       TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    membership      TEXT,                         -- for m.room.member
    PRIMARY KEY (room_id, type, state_key)
);
CREATE INDEX current_state_members ON current_state(state_key, membership) WHERE type = 'm.room.member';

-- Current membership of every user in every room, with the position it changed at.
CREATE TABLE room_memberships (
    user_id         TEXT NOT NULL,
    room_id         TEXT NOT NULL,
    membership      TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    stream_pos      INTEGER NOT NULL,
    forgotten       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, room_id)
);
CREATE INDEX room_memberships_room ON room_memberships(room_id, membership);

CREATE TABLE room_aliases (
    alias           TEXT PRIMARY KEY,
    room_id         TEXT NOT NULL,
    creator         TEXT NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases(room_id);
