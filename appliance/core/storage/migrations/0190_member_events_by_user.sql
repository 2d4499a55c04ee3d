-- 0190: each user's own membership events by room, in stream order, so that the membership of the
-- requesting user at an event (unsigned.membership, spec v1.11 / MSC4115) is read from their
-- short membership history instead of the room state at every event served.
CREATE INDEX events_member_history ON events(state_key, room_id, stream_pos) WHERE type = 'm.room.member';
