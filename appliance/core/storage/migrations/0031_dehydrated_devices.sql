-- 0031_dehydrated_devices: at most one dehydrated device per user (MSC3814), whose to-device
-- messages wait in the ordinary inbox until a new device of the user rehydrates it.
CREATE TABLE dehydrated_devices (
    user_id         TEXT PRIMARY KEY,
    device_id       TEXT NOT NULL,
    device_data     TEXT NOT NULL,               -- canonical JSON, opaque to the server
    created_ts      INTEGER NOT NULL
);
