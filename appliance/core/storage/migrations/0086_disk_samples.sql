-- 0086_disk_samples: the data disk's usage over time (one sample an hour at most), so the admin
-- dashboard can fit a line through it and say roughly when the disk will be full.
CREATE TABLE disk_samples (
    ts              INTEGER PRIMARY KEY,        -- Unix milliseconds
    used_bytes      INTEGER NOT NULL,
    total_bytes     INTEGER NOT NULL
);
