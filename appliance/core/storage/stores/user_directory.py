"""The user directory's candidates: users sharing a room with the searcher, and everyone joined
to a public room (join rule `public`, or listed in the room directory)."""
from __future__ import annotations

from dataclasses import dataclass

from ..database import Database

_CANDIDATES = """
SELECT m2.user_id, m2.event_id FROM room_memberships m1
  JOIN room_memberships m2 ON m2.room_id = m1.room_id AND m2.membership = 'join'
 WHERE m1.user_id = ? AND m1.membership = 'join'
UNION
SELECT cs.state_key, cs.event_id FROM current_state cs
  JOIN rooms r ON r.room_id = cs.room_id
  LEFT JOIN current_state jr ON jr.room_id = cs.room_id AND jr.type = 'm.room.join_rules' AND jr.state_key = ''
  LEFT JOIN events je ON je.event_id = jr.event_id
 WHERE cs.type = 'm.room.member' AND cs.membership = 'join'
   AND (r.is_public = 1 OR json_extract(je.json, '$.content.join_rule') = 'public')
"""


@dataclass(frozen=True, slots=True)
class DirectoryCandidate:
    user_id: str
    displayname: str | None    # the local profile's (None for remote users)
    avatar_url: str | None
    member_event_json: str | None  # the join event the candidate was found by


class UserDirectoryStore:
    def __init__(self, db: Database):
        self.db = db

    async def candidates(self, user_id: str) -> list[DirectoryCandidate]:
        """Everyone `user_id` may find, once per member event (a user may repeat)."""
        rows = await self.db.fetchall(
            f"SELECT c.user_id, u.displayname, u.avatar_url, e.json FROM ({_CANDIDATES}) c"
            " LEFT JOIN users u ON u.user_id = c.user_id LEFT JOIN events e ON e.event_id = c.event_id",
            (user_id,))
        return [DirectoryCandidate(*r) for r in rows]
