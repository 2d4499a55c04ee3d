"""Typing notifications (modules/typing): in memory, with timeouts, on the ephemeral serial.

Nothing is persisted: a restart forgets who was typing, as it should. Each change bumps
the stream's ephemeral serial and wakes the room's /sync waiters; expiry does the same.
"""
from __future__ import annotations

import asyncio
import time

from ..protocol.errors import Forbidden
from ..storage.stores.events import EventStore
from ..signals import Event
from ..stream import Stream

MAX_TIMEOUT_MS = 120_000


class TypingService:
    def __init__(self, stream: Stream, events: EventStore):
        self.stream = stream
        self.events = events
        self._typing: dict[str, dict[str, float]] = {}  # room -> user -> expiry (monotonic)
        self._serial: dict[str, int] = {}  # room -> ephemeral serial of its last change
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        # Emitted with the room ID when who is typing there changes (appservice transactions).
        self.changed: Event[[str]] = Event("typing changed")

    async def set_typing_in_room(self, room_id: str, user_id: str, typing: bool, timeout_ms: int | None = None) -> None:
        """A member's typing notification (PUT /rooms/{roomId}/typing/{userId}): only a joined member types."""
        if await self.events.membership(room_id, user_id) != "join":
            raise Forbidden("You are not in this room")
        self.set_typing(room_id, user_id, typing, timeout_ms)

    def set_typing(self, room_id: str, user_id: str, typing: bool, timeout_ms: int | None = None) -> None:
        users = self._typing.setdefault(room_id, {})
        timer = self._timers.pop((room_id, user_id), None)
        if timer is not None:
            timer.cancel()
        was_typing = user_id in users
        if typing:
            timeout = min(max(timeout_ms or 30_000, 0), MAX_TIMEOUT_MS) / 1000
            users[user_id] = time.monotonic() + timeout
            loop = asyncio.get_running_loop()
            self._timers[(room_id, user_id)] = loop.call_later(timeout, self._expire, room_id, user_id)
            if was_typing:
                return  # a renewal changes nothing clients can see
        else:
            if not was_typing:
                return
            del users[user_id]
        self._changed(room_id)

    def _expire(self, room_id: str, user_id: str) -> None:
        self._timers.pop((room_id, user_id), None)
        users = self._typing.get(room_id, {})
        if users.pop(user_id, None) is not None:
            self._changed(room_id)

    def _changed(self, room_id: str) -> None:
        self.stream.bump_ephemeral([room_id])
        self._serial[room_id] = self.stream.ephemeral
        if not self._typing.get(room_id):
            self._typing.pop(room_id, None)
        self.changed.emit(room_id)

    def typing_users(self, room_id: str) -> list[str]:
        return sorted(self._typing.get(room_id, {}))

    def changed_since(self, room_id: str, ephemeral: int) -> bool:
        return self._serial.get(room_id, 0) > ephemeral

    def stop_user(self, user_id: str) -> None:
        """The user left or was removed: they stop typing everywhere."""
        for room_id in [r for r, users in self._typing.items() if user_id in users]:
            self.set_typing(room_id, user_id, False)
