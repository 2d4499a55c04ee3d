-- 0063_openid: OpenID tokens (modules/openid), stored as SHA-256 hashes until they expire.
CREATE TABLE openid_tokens (
    token_hash      TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    expires_ts      INTEGER NOT NULL
);
CREATE INDEX openid_tokens_expiry ON openid_tokens(expires_ts);
