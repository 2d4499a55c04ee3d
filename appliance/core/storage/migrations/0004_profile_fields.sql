-- 0004_profile_fields: profile fields beyond displayname/avatar_url (m.tz, custom keys; spec v1.16).
CREATE TABLE profile_fields (
    user_id         TEXT NOT NULL,
    key             TEXT NOT NULL,
    value           TEXT NOT NULL,              -- canonical JSON of the field's value
    PRIMARY KEY (user_id, key)
);
