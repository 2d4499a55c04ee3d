-- Every backup run (manual or scheduled) and its outcome, for the dashboard (issue 5).
CREATE TABLE backup_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,              -- 'manual' | 'scheduled'
    started_ms      INTEGER NOT NULL,
    finished_ms     INTEGER NOT NULL,
    ok              INTEGER NOT NULL,           -- 1 = written and verified
    path            TEXT,                       -- the archive, when ok
    size            INTEGER,
    error           TEXT                        -- what went wrong, for the operator
);
CREATE INDEX backup_runs_kind ON backup_runs(kind, ok, finished_ms);
