"""User directory search (users.yaml, client-server-api "User directory").

Searchable for a user: everyone who shares a room with them, and everyone joined to a public
room (join rule `public`, or listed in the room directory). Names come from the local profile,
or from the member event for remote users.
"""
from __future__ import annotations

import json
from typing import Any

from ..storage.stores.user_directory import UserDirectoryStore


class UserDirectoryService:
    def __init__(self, store: UserDirectoryStore):
        self.store = store

    async def search(self, user_id: str, term: str, limit: int = 10) -> dict[str, Any]:
        limit = max(1, min(limit, 100))
        words = [w for w in term.lower().split() if w]
        found: dict[str, dict[str, Any]] = {}
        for c in await self.store.candidates(user_id):
            uid = c.user_id
            if uid in found:
                continue
            name, avatar = c.displayname, c.avatar_url
            if name is None and avatar is None and c.member_event_json:
                content = json.loads(c.member_event_json).get("content", {})
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
