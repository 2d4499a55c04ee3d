-- 0001_accounts: local users, their devices and tokens, registration tokens, filters.
CREATE TABLE users (
    user_id         TEXT PRIMARY KEY,
    password_hash   TEXT,                       -- NULL: cannot log in with a password
    created_ts      INTEGER NOT NULL,
    admin           INTEGER NOT NULL DEFAULT 0,
    deactivated     INTEGER NOT NULL DEFAULT 0,
    is_guest        INTEGER NOT NULL DEFAULT 0,
    displayname     TEXT,
    avatar_url      TEXT
);

CREATE TABLE devices (
    user_id         TEXT NOT NULL REFERENCES users(user_id),
    device_id       TEXT NOT NULL,
    display_name    TEXT,
    last_seen_ts    INTEGER,
    last_seen_ip    TEXT,
    created_ts      INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- Tokens are stored as their SHA-256, never in clear.
CREATE TABLE access_tokens (
    token_hash      TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    created_ts      INTEGER NOT NULL,
    expires_ts      INTEGER,                    -- NULL: does not expire
    refresh_token_hash TEXT                     -- the refresh token issued with it, if any
);
CREATE INDEX access_tokens_device ON access_tokens(user_id, device_id);

CREATE TABLE refresh_tokens (
    token_hash      TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    created_ts      INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_device ON refresh_tokens(user_id, device_id);

CREATE TABLE registration_tokens (
    token           TEXT PRIMARY KEY,
    uses_allowed    INTEGER,                    -- NULL: unlimited
    pending         INTEGER NOT NULL DEFAULT 0,
    completed       INTEGER NOT NULL DEFAULT 0,
    expiry_time     INTEGER,                    -- ms since epoch; NULL: never
    created_ts      INTEGER NOT NULL
);

CREATE TABLE user_filters (
    user_id         TEXT NOT NULL,
    filter_id       INTEGER NOT NULL,
    filter_json     TEXT NOT NULL,
    PRIMARY KEY (user_id, filter_id)
);

-- User-interactive auth sessions: which stages a session has completed, and for what request.
CREATE TABLE uia_sessions (
    session_id      TEXT PRIMARY KEY,
    created_ts      INTEGER NOT NULL,
    completed       TEXT NOT NULL DEFAULT '[]', -- JSON list of completed stage types
    request_key     TEXT NOT NULL,              -- method + path the session was started for
    result          TEXT NOT NULL DEFAULT '{}'  -- JSON: what the stages established (user_id...)
);

-- Key/value for server secrets and stored settings (the wizard writes here).
CREATE TABLE server_settings (
    key             TEXT PRIMARY KEY,
    value           TEXT NOT NULL
);
