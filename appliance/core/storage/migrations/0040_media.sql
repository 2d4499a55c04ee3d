-- 0040_media: local media, one row per media ID, pointing at a content-addressed file (SHA-256) on disk.
-- A row with sha256 NULL is an async upload (POST /media/v1/create) still waiting for its bytes.
CREATE TABLE media (
    media_id          TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL,           -- the uploader ('' for media the server fetched itself)
    created_ts        INTEGER NOT NULL,
    unused_expires_at INTEGER,                 -- async uploads: the create expires unused after this
    sha256            TEXT,                    -- hex; names the file under media/content/
    size              INTEGER,
    content_type      TEXT,
    upload_name       TEXT,
    uploaded_ts       INTEGER,
    authenticated     INTEGER NOT NULL DEFAULT 1  -- uploaded while legacy media was frozen: never served unauthenticated
);
CREATE INDEX media_by_user ON media (user_id);
CREATE INDEX media_by_sha256 ON media (sha256);
