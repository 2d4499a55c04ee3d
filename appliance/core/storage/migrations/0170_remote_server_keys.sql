-- 0170_remote_server_keys: other servers' signing keys as fetched from them (server-server-api.md
-- "Retrieving server keys"). Never deleted: an old key still verifies the events it signed
-- while it was valid. valid_until_ts is the key's validity (expired_ts for an old key).
CREATE TABLE remote_server_keys (
    server_name    TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    verify_key     BLOB NOT NULL,   -- the 32-byte ed25519 public key
    valid_until_ts INTEGER NOT NULL,
    expired        INTEGER NOT NULL DEFAULT 0,  -- 1: listed in old_verify_keys
    fetched_ts     INTEGER NOT NULL,
    PRIMARY KEY (server_name, key_id)
) WITHOUT ROWID;
