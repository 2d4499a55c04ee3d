-- 0090_sync_read_indexes: two lookups /sync makes for every room without an index to serve them.
-- A member's own latest event in a room (the read point for unread counts, push.read_points):
-- `MAX(stream_pos) WHERE room_id = ? AND sender = ?` walked every event of the room.
CREATE INDEX events_sender_room ON events(sender, room_id, stream_pos);
-- The room summary's heroes (the first members by join order): sorted every member of the room.
CREATE INDEX room_memberships_room_pos ON room_memberships(room_id, stream_pos);
