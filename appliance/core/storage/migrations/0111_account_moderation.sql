-- 0111: account locking (spec v1.12) and suspension (v1.13), set by server admins; both reversible.
ALTER TABLE users ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0;
