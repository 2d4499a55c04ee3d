-- 0030_e2ee: device and cross-signing keys, one-time and fallback keys, device-list changes,
-- the send-to-device inbox and server-side key backups (end_to_end_encryption.md).

-- A device's identity keys exactly as uploaded (and self-signed) by the device.
CREATE TABLE e2e_device_keys (
    user_id         TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    key_json        TEXT NOT NULL,                -- canonical JSON of the device_keys object
    stream_pos      INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- Unclaimed one-time keys; `id` orders them by upload for /keys/claim.
CREATE TABLE e2e_one_time_keys (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    algorithm       TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    key_json        TEXT NOT NULL,                -- the key object (or string) as uploaded
    UNIQUE (user_id, device_id, algorithm, key_id)
);
CREATE INDEX e2e_one_time_keys_claim ON e2e_one_time_keys(user_id, device_id, algorithm, id);

-- At most one fallback key per device and algorithm; `used` once it has been claimed.
CREATE TABLE e2e_fallback_keys (
    user_id         TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    algorithm       TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    key_json        TEXT NOT NULL,
    used            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, device_id, algorithm)
);

-- Cross-signing keys: key_type is master, self_signing or user_signing.
CREATE TABLE e2e_cross_signing_keys (
    user_id         TEXT NOT NULL,
    key_type        TEXT NOT NULL,
    public_key      TEXT NOT NULL,                -- the unpadded base64 ed25519 key
    key_json        TEXT NOT NULL,
    stream_pos      INTEGER NOT NULL,
    PRIMARY KEY (user_id, key_type)
);

-- Signatures uploaded through /keys/signatures/upload, kept apart from the signed objects so
-- that a user-signing key's signatures are shown only to their signer.
CREATE TABLE e2e_signatures (
    target_user_id  TEXT NOT NULL,
    target_key_id   TEXT NOT NULL,                -- a device ID, or a cross-signing public key
    signer_user_id  TEXT NOT NULL,
    signer_key_id   TEXT NOT NULL,                -- e.g. ed25519:<public key or device ID>
    signature       TEXT NOT NULL,
    PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
);

-- Each change to a user's devices or keys, at its stream position (for /sync device_lists).
CREATE TABLE device_list_changes (
    stream_pos      INTEGER NOT NULL,
    user_id         TEXT NOT NULL,
    device_id       TEXT NOT NULL DEFAULT ''     -- '' for a cross-signing change
);
CREATE INDEX device_list_changes_pos ON device_list_changes(stream_pos);
CREATE INDEX device_list_changes_user ON device_list_changes(user_id, stream_pos);

-- Send-to-device messages waiting for their device; deleted once the device's next sync
-- acknowledges them. `id` orders them and marks how far a limited delivery went.
CREATE TABLE to_device_inbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    stream_pos      INTEGER NOT NULL,
    message_json    TEXT NOT NULL                 -- {"sender", "type", "content"}
);
CREATE INDEX to_device_inbox_device ON to_device_inbox(user_id, device_id, id);

-- A delivery that hit the per-sync limit: the sync token `token_pos` acknowledges only the
-- messages up to `last_id`.
CREATE TABLE to_device_deliveries (
    user_id         TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    token_pos       INTEGER NOT NULL,
    last_id         INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id, token_pos)
);

-- Transaction IDs of /sendToDevice, so that a retried request is not delivered twice.
CREATE TABLE to_device_txns (
    user_id         TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    txn_id          TEXT NOT NULL,
    created_ts      INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);

-- Server-side key backups: versions count up per user; `etag` changes with every key change.
CREATE TABLE e2e_room_keys_versions (
    user_id         TEXT NOT NULL,
    version         INTEGER NOT NULL,
    algorithm       TEXT NOT NULL,
    auth_data       TEXT NOT NULL,                -- JSON
    etag            INTEGER NOT NULL DEFAULT 0,
    deleted         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, version)
);

CREATE TABLE e2e_room_keys (
    user_id         TEXT NOT NULL,
    version         INTEGER NOT NULL,
    room_id         TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    first_message_index INTEGER NOT NULL,
    forwarded_count INTEGER NOT NULL,
    is_verified     INTEGER NOT NULL,
    session_data    TEXT NOT NULL,                -- JSON
    PRIMARY KEY (user_id, version, room_id, session_id)
);
