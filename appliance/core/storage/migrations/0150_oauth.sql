-- 0150_oauth: the OAuth 2.0 API (spec v1.15): registered clients, authorization codes and
-- device authorization grants. Tokens issued through it are ordinary access/refresh tokens
-- (access_tokens, refresh_tokens); oauth_sessions remembers which client a device was made for.
CREATE TABLE oauth_clients (
    client_id  TEXT PRIMARY KEY,
    metadata   TEXT NOT NULL,      -- the registered client metadata as JSON (RFC 7591)
    created_ts INTEGER NOT NULL
) WITHOUT ROWID;

-- An authorization code, stored by SHA-256 hash; `used_ts` marks it spent (a second use is
-- refused and ends the session it made, RFC 6749 section 4.1.2).
CREATE TABLE oauth_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    device_id      TEXT NOT NULL,
    scope          TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    expires_ts     INTEGER NOT NULL,
    used_ts        INTEGER
) WITHOUT ROWID;

-- RFC 8628: a pending device grant; the browser approves (user_id set) or denies it.
CREATE TABLE oauth_device_grants (
    device_code_hash TEXT PRIMARY KEY,
    user_code        TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL,
    device_id        TEXT NOT NULL,
    scope            TEXT NOT NULL,
    expires_ts       INTEGER NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending',  -- pending | approved | denied
    user_id          TEXT,
    last_poll_ts     INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE oauth_sessions (
    user_id    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id)
) WITHOUT ROWID;
