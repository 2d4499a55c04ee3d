-- 0270_reach: reaching Hearth from outside the home (issue 18). The ACME account at each
-- certificate authority (its key made here at first use, never a default; the account URL
-- once registered) and every attempt to get or renew a certificate, for the admin page.
CREATE TABLE acme_accounts (
    directory_url TEXT PRIMARY KEY,
    key_pem       TEXT NOT NULL,
    kid           TEXT,
    created_ts    INTEGER NOT NULL
);

CREATE TABLE acme_attempts (
    id          INTEGER PRIMARY KEY,
    started_ts  INTEGER NOT NULL,
    finished_ts INTEGER,
    domain      TEXT NOT NULL,
    challenge   TEXT NOT NULL,     -- http-01 or dns-01
    reason      TEXT NOT NULL,     -- first, renewal, by hand
    ok          INTEGER,           -- NULL while running
    message     TEXT NOT NULL DEFAULT ''
);
