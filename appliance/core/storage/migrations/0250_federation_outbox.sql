-- 0250_federation_outbox: the federation sender's per-destination queues, on disk. The stream
-- consumer 'federation' puts each of our events here, one row per server to send it to, in the
-- same transaction that moves its position; a row goes when the destination has acknowledged
-- the transaction that carried it. A restart, or a peer that was away, resumes from here.
CREATE TABLE federation_outbox (
    destination TEXT NOT NULL,
    stream_pos  INTEGER NOT NULL,   -- the event's stream position: the order it is sent in
    event_id    TEXT NOT NULL,
    PRIMARY KEY (destination, stream_pos)
) WITHOUT ROWID;
