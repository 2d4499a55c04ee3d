"""The bridge host's side of the server: intents and portals over Hearth's own services.

`MatrixSide` is what the host is given (appliance/groups/bridges.py); a plugin only ever holds the
`Intent`s and `PortalDirectory` made from it for its own namespace. Intents act through the same
services as the Client-Server API (every event goes through the pipeline, every membership
through `Membership`), as the user they are for, with the remote network's timestamp when given
(the appservice API's timestamp massaging).
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.protocol.errors import MatrixError
from ..core.services.pipeline import EventPipeline
from ..core.services.shared_secret_registration import load_or_create_secret
from ..core.services.rooms.aliases import RoomAliases
from ..core.services.rooms.create import CreateRoomRequest, RoomCreation
from ..core.services.rooms.membership import Membership
from ..core.services.rooms.messages import RoomMessages
from ..core.services.presence import PresenceService
from ..core.services.typing import TypingService
from ..core.storage.stores.receipts import ReceiptStore
from ..core.storage.database import Database
from ..core.storage.stores.accounts import AccountStore
from ..core.storage.stores.bridges import BridgeStore
from ..core.storage.stores.events import EventStore
from ..core.storage.stores.stream_consumers import StreamConsumerStore
from ..core.services.appservices.registry import AppServiceRegistry
from ..core.stream import Stream
from . import naming
from .api import Portal


@dataclass(frozen=True, slots=True, eq=False)
class MatrixSide:
    server_name: str
    db: Database
    stream: Stream
    pipeline: EventPipeline
    events: EventStore
    accounts: AccountStore
    registry: AppServiceRegistry
    consumers: StreamConsumerStore
    store: BridgeStore
    creation: RoomCreation
    membership: Membership
    messages: RoomMessages
    aliases: RoomAliases
    typing: TypingService
    receipts: ReceiptStore
    presence: PresenceService
    data_dir: Path
    base_url: Callable[[], str]  # the public address clients use (media links for other networks)

    def bridge_secret(self, bridge_id: str) -> bytes:
        """32 bytes for one bridge, from the host's secret file (`bridges.key` in the data folder,
        made at first use, mode 0600): what a plugin encrypts its stored passwords with, kept out
        of the database they are stored in."""
        root = load_or_create_secret(self.data_dir / "bridges.key")
        return hmac.new(root.encode(), f"hearth bridge {bridge_id}".encode(), hashlib.sha256).digest()

    async def ensure_user(self, user_id: str, displayname: str | None = None) -> bool:
        """The account of a ghost or a bot, without a password (nobody can log in as it); True
        when made now."""
        if await self.accounts.user_exists(user_id):
            return False
        await self.accounts.create_user(user_id, None, displayname=displayname)
        return True


class UserIntent:
    """Acting as one of the bridge's users (api.Intent)."""

    def __init__(self, side: MatrixSide, user_id: str):
        self.side = side
        self.user_id = user_id

    async def send_message(self, room_id: str, content: Mapping[str, Any], *, event_type: str = "m.room.message",
                           ts: int | None = None, txn_id: str | None = None) -> str:
        return await self.side.messages.send_message(room_id, self.user_id, event_type, dict(content), txn_id,
                                                     None, ts=ts)

    async def send_state(self, room_id: str, event_type: str, state_key: str, content: Mapping[str, Any]) -> str:
        return await self.side.messages.set_state(room_id, self.user_id, event_type, state_key, dict(content))

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> str:
        return await self.side.messages.redact(room_id, event_id, self.user_id, reason, None, None)

    async def set_displayname(self, name: str | None) -> None:
        await self._set_profile("displayname", name)

    async def set_avatar_url(self, url: str | None) -> None:
        await self._set_profile("avatar_url", url)

    async def _set_profile(self, key: str, value: str | None) -> None:
        user = await self.side.accounts.get_user(self.user_id)
        if user is not None and getattr(user, key) == value:
            return  # unchanged: no new member events in every room
        await self.side.accounts.set_profile_field(self.user_id, key, value)
        await self.side.membership.refresh_profile(self.user_id)

    async def join(self, room_id: str) -> None:
        if await self.side.events.membership(room_id, self.user_id) != "join":
            await self.side.membership.join(self.user_id, room_id)

    async def leave(self, room_id: str, reason: str | None = None) -> None:
        await self.side.membership.leave(room_id, self.user_id, reason=reason)

    async def invite(self, room_id: str, user_id: str) -> None:
        if await self.side.events.membership(room_id, user_id) not in ("join", "invite"):
            await self.side.membership.invite(room_id, self.user_id, user_id)

    async def kick(self, room_id: str, user_id: str, reason: str | None = None) -> None:
        await self.side.membership.kick(room_id, self.user_id, user_id, reason=reason)

    async def ban(self, room_id: str, user_id: str, reason: str | None = None) -> None:
        await self.side.membership.ban(room_id, self.user_id, user_id, reason=reason)

    async def set_typing(self, room_id: str, typing: bool, timeout_ms: int = 30_000) -> None:
        await self.side.typing.set_typing_in_room(room_id, self.user_id, typing, timeout_ms)


class PortalDirectory:
    """A bridge's portals (api.Portals): rooms made by its bot, or existing rooms linked to it."""

    def __init__(self, side: MatrixSide, bridge_id: str, bot: UserIntent):
        self.side = side
        self.bridge_id = bridge_id
        self.bot = bot

    async def get(self, key: str) -> Portal | None:
        row = await self.side.store.portal(self.bridge_id, key)
        return Portal(row.key, row.room_id, row.plumbed) if row else None

    async def by_room(self, room_id: str) -> Portal | None:
        row = await self.side.store.portal_by_room(self.bridge_id, room_id)
        return Portal(row.key, row.room_id, row.plumbed) if row else None

    async def members(self, key: str) -> list[str]:
        """Who is joined to the portal now."""
        portal = await self.get(key)
        return [] if portal is None else sorted(await self.side.events.members(portal.room_id, "join"))

    async def all(self) -> list[Portal]:
        return [Portal(r.key, r.room_id, r.plumbed) for r in await self.side.store.portals(self.bridge_id)]

    async def create(self, key: str, *, name: str, topic: str | None = None, invite: Sequence[str] = (),
                     public: bool = False, alias: bool = True, direct: bool = False) -> Portal:
        existing = await self.get(key)
        if existing is not None:
            return existing
        alias_localpart = None
        if alias:
            full = naming.portal_alias(self.bridge_id, key, self.side.server_name)
            alias_localpart = full[1:-(len(self.side.server_name) + 1)]
        request = CreateRoomRequest(
            name=name, topic=topic, invite=list(invite), preset="public_chat" if public else "private_chat",
            room_alias_name=alias_localpart, is_direct=direct,
            visibility="private")
        room_id = await self.side.creation.create_room(self.bot.user_id, request, appservice_id=self.bridge_id)
        await self.side.store.add_portal(self.bridge_id, key, room_id, plumbed=False)
        return Portal(key, room_id, False)

    async def plumb(self, key: str, room_id: str) -> Portal:
        """Link an existing room: the bot joins it (it must be invited, or the room public)."""
        await self.bot.join(room_id)
        await self.side.store.add_portal(self.bridge_id, key, room_id, plumbed=True)
        return Portal(key, room_id, True)

    async def unlink(self, key: str) -> None:
        portal = await self.get(key)
        if portal is None:
            return
        await self.side.store.remove_portal(self.bridge_id, key)
        if portal.plumbed:
            try:
                await self.bot.leave(portal.room_id, reason="The bridge was unlinked")
            except MatrixError:
                pass

    async def set_power_levels(self, key: str, levels: Mapping[str, int]) -> None:
        portal = await self.get(key)
        if portal is None:
            raise KeyError(key)
        current = await self.side.events.current_state_event(portal.room_id, "m.room.power_levels", "")
        content = dict(current.content) if current is not None else {}
        users = dict(content.get("users") or {})
        changed = False
        for user_id, level in levels.items():
            if user_id == self.bot.user_id:
                continue  # the bot keeps its own level
            if users.get(user_id, None) != level:
                if level == content.get("users_default", 0):
                    changed |= users.pop(user_id, None) is not None
                else:
                    users[user_id] = level
                    changed = True
        if changed:
            content["users"] = users
            await self.bot.send_state(portal.room_id, "m.room.power_levels", "", content)
