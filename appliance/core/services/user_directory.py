"""User directory search (users.yaml, client-server-api "User directory").

Searchable for a user: everyone who shares a room with them, and everyone joined to a public
room (join rule `public`, or listed in the room directory). Names come from the local profile,
or from the member event for remote users.
"""
from __future__ import annotations

import json
from typing import Any

from ..storage.database import Database

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


class UserDirectoryService:
    def __init__(self, db: Database):
        self.db = db

    async def search(self, user_id: str, term: str, limit: int = 10) -> dict[str, Any]:
        limit = max(1, min(limit, 100))
        words = [w for w in term.lower().split() if w]
        rows = await self.db.fetchall(
            f"SELECT c.user_id, c.event_id, u.displayname, u.avatar_url, e.json FROM ({_CANDIDATES}) c"
            " LEFT JOIN users u ON u.user_id = c.user_id LEFT JOIN events e ON e.event_id = c.event_id",
            (user_id,))
        found: dict[str, dict[str, Any]] = {}
        for uid, _eid, local_name, local_avatar, member_json in rows:
            if uid in found:
                continue
            name, avatar = local_name, local_avatar
            if name is None and avatar is None and member_json:
                content = json.loads(member_json).get("content", {})
                name = content.get("displayname") if isinstance(content.get("displayname"), str) else None
                avatar = content.get("avatar_url") if isinstance(content.get("avatar_url"), str) else None
            haystack = f"{uid} {name or ''}".lower()
            if words and not all(w in haystack for w in words):
                continue
            entry: dict[str, Any] = {"user_id": uid}
            if name is not None:
                entry["display_name"] = name
            if avatar is not None:
                entry["avatar_url"] = avatar
            found[uid] = entry
        ranked = sorted(found.values(), key=lambda e: (
            not any((e.get("display_name") or "").lower().startswith(w) or e["user_id"][1:].lower().startswith(w)
                    for w in words),
            (e.get("display_name") or e["user_id"]).lower()))
        return {"results": ranked[:limit], "limited": len(ranked) > limit}
