"""The `BridgeContext` the host hands to one plugin (appliance/bridges/api.py): its namespace, its
intents, its portals, its tables, its settings, its health and its tasks — nothing else."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel

from ..core.storage.plugin_tables import PluginTables
from . import naming
from .api import BridgeInfo, Health, RemoteMessage
from .matrix_side import MatrixSide, PortalDirectory, UserIntent

log = logging.getLogger(__name__)


class PluginContext:
    def __init__(self, side: MatrixSide, info: BridgeInfo, settings: BaseModel, tables: PluginTables,
                 on_health: Callable[[Health, str], None], on_task_failed: Callable[[BaseException], None]):
        self._side = side
        self.info = info
        self.server_name = side.server_name
        self._settings = settings
        self.storage = tables
        self.bot = UserIntent(side, naming.bot_id(info.id, side.server_name))
        self.portals = PortalDirectory(side, info.id, self.bot)
        self._on_health = on_health
        self._on_task_failed = on_task_failed
        self._tasks: set[asyncio.Task] = set()
        self._ghosts_known: set[str] = set()

    # -- settings and health ----------------------------------------------------------------

    @property
    def settings(self) -> BaseModel:
        return self._settings

    def set_health(self, health: Health, reason: str = "") -> None:
        self._on_health(health, reason)

    # -- IDs ------------------------------------------------------------------------------------

    def ghost_id(self, remote_id: str) -> str:
        return naming.ghost_id(self.info.id, remote_id, self.server_name)

    def is_ghost(self, user_id: str) -> bool:
        return naming.remote_id_of(self.info.id, user_id, self.server_name) is not None

    def remote_id(self, user_id: str) -> str | None:
        return naming.remote_id_of(self.info.id, user_id, self.server_name)

    def portal_alias(self, key: str) -> str:
        return naming.portal_alias(self.info.id, key, self.server_name)

    def secret(self) -> bytes:
        return self._side.bridge_secret(self.info.id)

    def media_url(self, mxc: str) -> str | None:
        if not isinstance(mxc, str) or not mxc.startswith("mxc://") or mxc.count("/") != 3:
            return None
        server, media_id = mxc[len("mxc://"):].split("/", 1)
        return f"{self._side.base_url()}/_matrix/media/v3/download/{server}/{media_id}"

    def is_local_user(self, user_id: str) -> bool:
        return (user_id.endswith(":" + self.server_name) and not self.is_ghost(user_id)
                and user_id != self.bot.user_id and self._side.registry.exclusive_owner("users", user_id) is None)

    # -- acting ---------------------------------------------------------------------------------

    async def ghost(self, remote_id: str, *, displayname: str | None = None,
                    avatar_url: str | None = None) -> UserIntent:
        user_id = self.ghost_id(remote_id)
        intent = UserIntent(self._side, user_id)
        if user_id not in self._ghosts_known:
            await self._side.ensure_user(user_id, displayname)
            self._ghosts_known.add(user_id)
        if displayname is not None:
            await intent.set_displayname(displayname)
        if avatar_url is not None:
            await intent.set_avatar_url(avatar_url)
        return intent

    async def ensure_member(self, intent: UserIntent, room_id: str) -> None:
        """The ghost (or bot) joined to a room of the bridge: invited by the bot first where the
        room is not open to anyone."""
        if await self._side.events.membership(room_id, intent.user_id) == "join":
            return
        if intent.user_id != self.bot.user_id:
            await self.bot.invite(room_id, intent.user_id)
        await intent.join(room_id)

    async def management_room(self, user_id: str) -> str:
        room_id = await self._side.store.management_room(self.info.id, user_id)
        if room_id is not None and await self._side.events.membership(room_id, self.bot.user_id) == "join":
            if await self._side.events.membership(room_id, user_id) in ("join", "invite"):
                return room_id
        from ..core.services.rooms.create import CreateRoomRequest

        request = CreateRoomRequest(name=f"{self.info.name} bridge", topic=f"Talk to the {self.info.name} bridge "
                                    "here: send !help for what it understands.", invite=[user_id],
                                    preset="trusted_private_chat", is_direct=True)
        room_id = await self._side.creation.create_room(self.bot.user_id, request, appservice_id=self.info.id)
        await self._side.store.set_management_room(self.info.id, user_id, room_id)
        return room_id

    async def notice(self, user_id: str, text: str) -> None:
        room_id = await self.management_room(user_id)
        await self.bot.send_message(room_id, {"msgtype": "m.notice", "body": text})

    async def backfill(self, portal_key: str, messages: Sequence[RemoteMessage]) -> list[str]:
        portal = await self.portals.get(portal_key)
        if portal is None:
            raise KeyError(portal_key)
        senders = {m.sender for m in messages}
        for remote in sorted(senders):  # every sender a member first: their joins are state, not in the batch
            await self.ensure_member(await self.ghost(remote), portal.room_id)
        items = [(self.ghost_id(m.sender), m.event_type, dict(m.content), int(m.ts)) for m in messages]
        persisted = await self._side.pipeline.create_batch(portal.room_id, items)
        return [p.pdu.event_id for p in persisted]

    # -- tasks ----------------------------------------------------------------------------------

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        task.set_name(f"bridge {self.info.id}: {name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("bridge %s: task %s failed", self.info.id, task.get_name(), exc_info=exc)
            self._on_task_failed(exc)

    async def cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        self._tasks.clear()
