-- 0060_presence: each user's last set presence, at the stream position it changed (modules/presence).
-- "unavailable" and "offline" after inactivity are computed when read from last_active_ts, so
-- nothing is written while a user merely idles.
CREATE TABLE presence (
    user_id         TEXT PRIMARY KEY,
    state           TEXT NOT NULL,                -- online, unavailable, offline (as set)
    status_msg      TEXT,
    last_active_ts  INTEGER NOT NULL,             -- ms; the last pro-active action
    stream_pos      INTEGER NOT NULL
);
CREATE INDEX presence_pos ON presence(stream_pos);
