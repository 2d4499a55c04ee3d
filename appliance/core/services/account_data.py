"""Account data (modules/account_data, tags, ignore users): per-user JSON, global or per room.

Each change takes a stream position and wakes the user's /sync. Tags are nothing but the
room's `m.tag` account data; the ignore list is the global `m.ignored_user_list`.
"""
from __future__ import annotations

import sqlite3
from typing import Any

from ..protocol.errors import BadJson
from ..storage.database import Database
from ..storage.stores.account_data import AccountDataRow, AccountDataStore
from ..stream import Stream

# Types the server manages through their own APIs: a client PUT is M_BAD_JSON (account-data.yaml).
SERVER_MANAGED = frozenset({"m.fully_read", "m.push_rules"})
IGNORED_USER_LIST = "m.ignored_user_list"


class AccountDataService:
    def __init__(self, db: Database, store: AccountDataStore, stream: Stream):
        self.db = db
        self.store = store
        self.stream = stream
        self._ignored: dict[str, frozenset[str]] = {}

    async def get(self, user_id: str, type_: str, room_id: str = "") -> dict[str, Any] | None:
        return await self.store.get(user_id, room_id, type_)

    async def set_by_client(self, user_id: str, type_: str, content: dict[str, Any], room_id: str = "") -> None:
        """PUT from a client: the server-managed types are refused."""
        if type_ in SERVER_MANAGED:
            raise BadJson(f"Cannot set {type_} through this API")
        await self.set(user_id, type_, content, room_id)

    async def set(self, user_id: str, type_: str, content: dict[str, Any], room_id: str = "") -> int:
        def job(conn: sqlite3.Connection) -> int:
            pos = self.stream.allocate(conn)
            self.store.put_job(conn, user_id, room_id, type_, content, pos)
            return pos

        pos = await self.db.write(job)
        if type_ == IGNORED_USER_LIST and not room_id:
            self._ignored.pop(user_id, None)
        self.stream.advance(pos, [user_id])
        return pos

    async def changed(self, user_id: str, after: int, upto: int) -> list[AccountDataRow]:
        return await self.store.changed(user_id, after, upto)

    # -- tags (modules/tags) ----------------------------------------------------------------

    async def get_tags(self, user_id: str, room_id: str) -> dict[str, Any]:
        content = await self.store.get(user_id, room_id, "m.tag") or {}
        tags = content.get("tags")
        return tags if isinstance(tags, dict) else {}

    async def set_room_tag(self, user_id: str, room_id: str, tag: str, body: dict[str, Any]) -> None:
        tags = dict(await self.get_tags(user_id, room_id))
        tags[tag] = body
        await self.set(user_id, "m.tag", {"tags": tags}, room_id)

    async def remove_room_tag(self, user_id: str, room_id: str, tag: str) -> None:
        tags = dict(await self.get_tags(user_id, room_id))
        if tags.pop(tag, None) is not None:
            await self.set(user_id, "m.tag", {"tags": tags}, room_id)

    # -- ignoring users (modules/ignore_users) ----------------------------------------------

    async def ignored_users(self, user_id: str) -> frozenset[str]:
        cached = self._ignored.get(user_id)
        if cached is not None:
            return cached
        content = await self.store.get(user_id, "", IGNORED_USER_LIST) or {}
        users = content.get("ignored_users")
        result = frozenset(u for u in users if isinstance(u, str)) if isinstance(users, dict) else frozenset()
        self._ignored[user_id] = result
        return result
