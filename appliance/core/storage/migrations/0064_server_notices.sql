-- 0064_server_notices: the server notices room of each user (modules/server_notices).
CREATE TABLE server_notice_rooms (
    user_id         TEXT PRIMARY KEY,
    room_id         TEXT NOT NULL
);
