-- 0185_appservices: application services (application-service-api.md), stored in the database,
-- not in files: the registration as written, and the queue of transactions to each one.
CREATE TABLE appservices (
    id           TEXT PRIMARY KEY,
    registration TEXT NOT NULL,    -- the registration as JSON (YAML uploads are stored decoded)
    created_ts   INTEGER NOT NULL
) WITHOUT ROWID;

-- Transactions built from the stream and not yet accepted by the appservice, oldest first. A
-- transaction is built once, in the same write as its stream consumer's position
-- ('appservice:<id>' in stream_consumers), and sent with the same id and body until accepted.
CREATE TABLE appservice_txns (
    appservice_id TEXT NOT NULL,
    txn_id        INTEGER NOT NULL,
    body          TEXT NOT NULL,   -- the JSON body of PUT /_matrix/app/v1/transactions/{txnId}
    events        INTEGER NOT NULL, -- how many events it carries (for the pages)
    created_ts    INTEGER NOT NULL,
    PRIMARY KEY (appservice_id, txn_id)
) WITHOUT ROWID;

-- What the bridge doctor shows: the last transaction id used, the last success and failure.
CREATE TABLE appservice_status (
    appservice_id   TEXT PRIMARY KEY,
    last_txn_id     INTEGER NOT NULL DEFAULT 0,
    last_success_ts INTEGER,
    last_error      TEXT,
    last_error_ts   INTEGER
) WITHOUT ROWID;

-- Bumped by `hearth appservice install/remove` from another process; the running server reloads
-- the registrations when it sees a new generation and acknowledges it (`loaded`).
CREATE TABLE appservice_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL,
    loaded     INTEGER NOT NULL
);
INSERT INTO appservice_generation (id, generation, loaded) VALUES (1, 0, 0);
