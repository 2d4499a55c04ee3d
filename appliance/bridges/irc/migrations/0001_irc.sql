-- The IRC bridge's own tables (its migration track: bridge:irc).
-- Each person's nick and stored password (Fernet, with the key from ctx.secret(): outside the database).
CREATE TABLE irc_users (
    user_id  TEXT NOT NULL,
    network  TEXT NOT NULL,
    nick     TEXT,
    password TEXT,
    PRIMARY KEY (user_id, network)
) WITHOUT ROWID;

-- Matrix events already sent to IRC: one given again after a hard stop is not sent twice.
CREATE TABLE irc_sent (
    event_id TEXT PRIMARY KEY,
    sent_ts  INTEGER NOT NULL
) WITHOUT ROWID;
