"""The stream: one monotonic position for every persisted change, and the notifier.

Every write that a client must learn about (an event, account data, a receipt, …) takes the
next position inside the writer's transaction (`Stream.allocate`). Once the transaction has
committed, the writer's caller calls `Stream.advance(pos, keys)`: readers then see everything
up to `current`, and waiters whose keys (user IDs, room IDs) were touched wake up.

Ephemeral changes that are never persisted (typing) bump a separate serial.
Nothing polls the database: `/sync` sleeps in `wait_for_change` (changes to its keys), the
stream consumers (core/stream_consumer.py) in `wait_past` (any committed position).
"""
from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .storage.stores import stream_position


@dataclass(frozen=True, slots=True)
class Position:
    stream: int
    ephemeral: int

    def __gt__(self, other: Position) -> bool:  # "has anything happened since other?"
        return self.stream > other.stream or self.ephemeral > other.ephemeral


class Stream:
    def __init__(self) -> None:
        self._next = 1
        self.current = 0          # every position <= current is committed
        self.ephemeral = 0
        self._last_change: dict[str, Position] = {}
        self._waiters: dict[str, set[asyncio.Future[bool]]] = {}
        self._moved: asyncio.Event | None = None  # set (and replaced) when `current` moves
        # Name → the StreamConsumer following the stream (weakly: one that is dropped is gone
        # from here too). The metrics read each one's lag behind `current`.
        self.consumers: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()

    # -- positions --------------------------------------------------------------------------

    def load(self, conn: sqlite3.Connection) -> None:
        """At start-up: continue after the highest position ever handed out."""
        top = stream_position.load_top_job(conn)
        self.current = top
        self._next = top + 1

    def allocate(self, conn: sqlite3.Connection) -> int:
        """Take the next position. Called in the writer thread, inside the job's transaction."""
        pos = self._next
        self._next += 1
        stream_position.save_job(conn, pos)
        return pos

    def position(self) -> Position:
        return Position(self.current, self.ephemeral)

    # -- notification -----------------------------------------------------------------------

    def advance(self, pos: int, keys: Iterable[str] = ()) -> None:
        """A write up to `pos` has committed; wake whoever waits on one of `keys`.

        The clients' long-polls are woken before the stream consumers (push, search, bridges…),
        so that their tasks run first: a consumer woken first did its reads, its evaluation and its
        write job on the event loop while the /sync that the new event was for waited."""
        moved = None
        if pos > self.current:
            self.current = pos
            moved = self._moved
            self._moved = None
        self._touch(keys)
        if moved is not None:
            moved.set()

    def bump_ephemeral(self, keys: Iterable[str]) -> None:
        self.ephemeral += 1
        self._touch(keys)

    def _touch(self, keys: Iterable[str]) -> None:
        now = Position(self.current, self.ephemeral)
        for key in keys:
            self._last_change[key] = now
            for waiter in self._waiters.get(key, ()):
                if not waiter.done():
                    waiter.set_result(True)

    def changed_since(self, keys: Iterable[str], since: Position) -> bool:
        return any(
            (lc := self._last_change.get(k)) is not None and lc > since for k in keys
        )

    async def wait_for_change(self, keys: Iterable[str], since: Position, timeout: float) -> bool:
        """Sleep until one of `keys` changes after `since`, or `timeout` seconds pass.

        Returns True if something changed. A change between the caller reading `since` and
        calling this is not missed: it shows in `_last_change` and returns at once.
        """
        keys = list(keys)
        if self.changed_since(keys, since):
            return True
        if timeout <= 0:
            return False
        # A bare future and a timer: a change wakes the waiting task directly, in the order the
        # changes touch it (asyncio.wait_for wrapped Event.wait in a task of its own per long-poll,
        # and its wake-up took three turns of the loop).
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        timer = loop.call_later(timeout, _expire, waiter)
        for k in keys:
            self._waiters.setdefault(k, set()).add(waiter)
        try:
            return await waiter
        finally:
            timer.cancel()
            for k in keys:
                waiters = self._waiters.get(k)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._waiters[k]

    async def wait_past(self, pos: int) -> int:
        """Sleep until a position after `pos` has committed (at once if one has); returns the
        current position. For the stream consumers, which follow every position, not keys."""
        while self.current <= pos:
            if self._moved is None:
                self._moved = asyncio.Event()
            await self._moved.wait()
        return self.current

    def waiter_count(self) -> int:
        return sum(len(w) for w in self._waiters.values())


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)
