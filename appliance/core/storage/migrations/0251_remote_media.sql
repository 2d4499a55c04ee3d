-- 0251_remote_media: media of other servers fetched over federation for our users, kept as
-- content-addressed files like our own (media/content/), one row per (server, media ID).
CREATE TABLE remote_media (
    server_name  TEXT NOT NULL,
    media_id     TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT,
    upload_name  TEXT,
    fetched_ts   INTEGER NOT NULL,
    PRIMARY KEY (server_name, media_id)
) WITHOUT ROWID;
CREATE INDEX remote_media_by_sha256 ON remote_media (sha256);
