-- 0005_refresh_token_rotation: a rotated refresh token stays valid until its successor is used
-- (spec: "The old refresh token remains valid until the new access token or refresh token is used").
ALTER TABLE refresh_tokens ADD COLUMN replaces TEXT;   -- hash of the refresh token this one replaced
