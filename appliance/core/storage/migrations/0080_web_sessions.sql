-- 0080_web_sessions: server-side sessions of the web UI and the setup wizard. The cookie holds a
-- signed random ID; only its SHA-256 is stored, so a copy of the database signs nobody in.
CREATE TABLE web_sessions (
    session_hash    TEXT PRIMARY KEY,
    user_id         TEXT,                       -- NULL: nobody signed in (wizard, login page)
    csrf_token      TEXT NOT NULL,              -- per session; every POST must carry it
    data            TEXT NOT NULL DEFAULT '{}', -- JSON: small per-session state (e.g. wizard claim)
    created_ts      INTEGER NOT NULL,
    last_seen_ts    INTEGER NOT NULL,
    expires_ts      INTEGER NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions(user_id);
CREATE INDEX web_sessions_expiry ON web_sessions(expires_ts);
