-- Lines from Matrix waiting to go to IRC (flood control, or the link is down): kept across a
-- restart. A row is deleted (committed) just before its line is written to the socket, so a line
-- is never sent twice; one that was never written is sent after a restart.
CREATE TABLE irc_outbox (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id   TEXT NOT NULL,
    network   TEXT NOT NULL,
    line      TEXT NOT NULL,
    queued_ts INTEGER NOT NULL
);
CREATE INDEX irc_outbox_user ON irc_outbox (user_id, network, id);
