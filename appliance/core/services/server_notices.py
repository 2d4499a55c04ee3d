"""Server notices (modules/server_notices): messages from the server to one user.

Notices come from a system account (`@hearth-notices:<server>`, made on first use, with no
password so nobody can log in as it) in one room per user. The room is created on first use
with the user invited (the spec: invite, do not force-join), tagged `m.server_notice` in the
user's room account data, and with power levels that let the user read but not post. If the
user has left their notices room, the next notice opens a new one.

Announcements from the admin pages are plain `m.text` messages; a notice with a
`server_notice_type` (e.g. m.server_notice.usage_limit_reached) uses msgtype m.server_notice.
"""
from __future__ import annotations

import asyncio
from typing import Any

from ..protocol import ids
from ..protocol.errors import InvalidParam, MatrixError, NotFound
from ..storage.stores.server_notices import ServerNoticeStore
from ..storage.stores.accounts import AccountStore
from .account_data import AccountDataService
from ..storage.stores.events import EventStore
from .rooms.create import CreateRoomRequest, RoomCreation
from .rooms.messages import RoomMessages

SYSTEM_LOCALPART = "hearth-notices"
TAG = "m.server_notice"
ROOM_NAME = "Server notices"


class ServerNoticeService:
    def __init__(self, store: ServerNoticeStore, accounts: AccountStore, room_creation: RoomCreation,
                 room_messages: RoomMessages, events: EventStore, account_data: AccountDataService,
                 server_name: str, localpart: str = SYSTEM_LOCALPART, displayname: str = "Server notices"):
        self.store = store
        self.accounts = accounts
        self.room_creation = room_creation
        self.room_messages = room_messages
        self.events = events
        self.account_data = account_data
        self.server_name = server_name
        self.system_user_id = f"@{localpart}:{server_name}"
        self.displayname = displayname
        self._lock = asyncio.Lock()
        self._txn_locks: dict[tuple[str, str, str], list] = {}  # txn key → [lock, holders and waiters]

    async def _ensure_system_user(self) -> None:
        user = await self.accounts.get_user(self.system_user_id)
        if user is None:
            await self.accounts.create_user(self.system_user_id, None, displayname=self.displayname)
        elif user.password_hash is not None:
            # Someone registered the name with a password: never speak for the server through it.
            raise RuntimeError(f"{self.system_user_id} is a login account; cannot send server notices as it")

    async def notice_room(self, user_id: str) -> str | None:
        """The user's current notices room (the user joined or invited), if any."""
        room_id = await self.store.room_of(user_id)
        if room_id is None:
            return None
        if await self.events.membership(room_id, user_id) not in ("join", "invite"):
            return None
        if await self.events.membership(room_id, self.system_user_id) != "join":
            return None
        return room_id

    async def notice_room_ids(self) -> set[str]:
        """Every user's server-notice room (the admin's room list marks them)."""
        return await self.store.all_rooms()

    async def is_notice_room(self, room_id: str, user_id: str) -> bool:
        return await self.store.is_room_of(user_id, room_id)

    async def check_may_leave(self, room_id: str, user_id: str) -> None:
        """The spec: rejecting the invite to one's notices room is refused (leaving after
        joining is allowed)."""
        if await self.events.membership(room_id, user_id) == "invite" and await self.is_notice_room(
                room_id, user_id):
            raise MatrixError("You cannot reject the invite to your server notices room",
                              status=403, errcode="M_CANNOT_LEAVE_SERVER_NOTICE_ROOM")

    async def _create_room(self, user_id: str) -> str:
        request = CreateRoomRequest(
            preset="private_chat",
            name=ROOM_NAME,
            invite=[user_id],
            power_level_content_override={"users_default": -10, "events_default": 0},
        )
        room_id = await self.room_creation.create_room(self.system_user_id, request)
        await self.store.set_room(user_id, room_id)
        await self.account_data.set_room_tag(user_id, room_id, TAG, {"order": 0.0})
        return room_id

    async def send_notice(self, user_id: str, body: str, *, server_notice_type: str | None = None,
                          extra: dict[str, Any] | None = None) -> str:
        """Send `body` to a local user in their notices room; returns the event ID."""
        try:
            _, server = ids.parse_user_id(user_id)
        except ValueError:
            raise InvalidParam("Not a user ID") from None
        if server != self.server_name or user_id == self.system_user_id:
            raise InvalidParam("Server notices go to local users only")
        user = await self.accounts.get_user(user_id)
        if user is None or user.deactivated:
            raise NotFound("Unknown user")
        if not isinstance(body, str) or not body.strip():
            raise InvalidParam("A notice needs a body")
        content: dict[str, Any] = dict(extra or {})
        content["body"] = body
        if server_notice_type is not None:
            content["msgtype"] = "m.server_notice"
            content["server_notice_type"] = server_notice_type
        else:
            content["msgtype"] = "m.text"
        async with self._lock:
            await self._ensure_system_user()
            room_id = await self.notice_room(user_id) or await self._create_room(user_id)
        return await self.room_messages.send_message(room_id, self.system_user_id, "m.room.message", content, None, None)

    async def send_notice_once(self, admin_user_id: str, device_id: str | None, txn_id: str, user_id: str,
                               body: str, **kwargs: Any) -> str:
        """`send_notice` for PUT .../send_server_notice/{txnId}: the admin's device sending the
        same txnId again gets the first notice's event ID and nothing is sent (as for the
        client API's transaction IDs, the key is the device, not the body)."""
        key = (admin_user_id, device_id or "", txn_id)
        entry = self._txn_locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                existing = await self.store.sent_for_txn(*key)
                if existing is not None:
                    return existing
                event_id = await self.send_notice(user_id, body, **kwargs)
                await self.store.record_txn(*key, event_id)
                return event_id
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._txn_locks[key]
