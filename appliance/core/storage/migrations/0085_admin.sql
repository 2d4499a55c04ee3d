-- 0085_admin: what the admin API and pages need beyond the core tables: blocked rooms, the
-- connections each device was seen on (whois), erased users and room deletions with their status.
CREATE TABLE blocked_rooms (
    room_id         TEXT PRIMARY KEY,           -- may be a room this server has never seen
    user_id         TEXT NOT NULL,              -- the admin who blocked it
    created_ts      INTEGER NOT NULL
);

-- One row per (device, ip, user agent): whois lists them as the device's connections.
CREATE TABLE user_ips (
    user_id         TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    ip              TEXT NOT NULL,
    user_agent      TEXT NOT NULL,
    last_seen       INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id, ip, user_agent)
);

-- Users deactivated with erase: their profile is gone for good.
CREATE TABLE erased_users (
    user_id         TEXT PRIMARY KEY
);

-- Room deletions (DELETE /_synapse/admin/v2/rooms/{roomId}) and how far each got.
CREATE TABLE room_deletions (
    delete_id       TEXT PRIMARY KEY,
    room_id         TEXT NOT NULL,
    status          TEXT NOT NULL,              -- scheduled | active | complete | failed
    error           TEXT,
    shutdown_room   TEXT NOT NULL DEFAULT '{}', -- JSON: kicked_users, failed_to_kick_users, local_aliases, new_room_id
    requester       TEXT NOT NULL,
    created_ts      INTEGER NOT NULL,
    finished_ts     INTEGER
);
CREATE INDEX room_deletions_room ON room_deletions(room_id);
