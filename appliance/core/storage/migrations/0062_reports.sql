-- 0062_reports: content reported by users (modules/report_content), kept for the admin to review.
CREATE TABLE reports (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,                -- event, room, user
    reporter        TEXT NOT NULL,
    room_id         TEXT,                         -- event and room reports
    event_id        TEXT,                         -- event reports
    target_user_id  TEXT,                         -- user reports; the sender for event reports
    reason          TEXT,
    score           INTEGER,                      -- older clients' event score (-100..0), if sent
    received_ts     INTEGER NOT NULL
);
CREATE INDEX reports_ts ON reports(received_ts);
