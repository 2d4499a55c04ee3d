"""Typed events between services: how a service tells others that something happened without
knowing who listens (an event persisted, devices deleted).

The emitter is given its event when it is built; the listeners subscribe while the server is
put together (appliance/groups/), before it serves. A listener that fails is logged and never
breaks the emitter: what happened has happened.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Generic, ParamSpec

log = logging.getLogger(__name__)

P = ParamSpec("P")


class Event(Generic[P]):
    """Listeners called in the emitter's own call, in the order they subscribed."""

    __slots__ = ("name", "_listeners")

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[P, object]] = []

    def subscribe(self, listener: Callable[P, object]) -> None:
        self._listeners.append(listener)

    def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for listener in self._listeners:
            try:
                listener(*args, **kwargs)
            except Exception:
                log.exception("%s listener failed", self.name)


class AsyncEvent(Generic[P]):
    """Listeners awaited one after the other by the emitter."""

    __slots__ = ("name", "_listeners")

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[P, Awaitable[object]]] = []

    def subscribe(self, listener: Callable[P, Awaitable[object]]) -> None:
        self._listeners.append(listener)

    async def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for listener in self._listeners:
            try:
                await listener(*args, **kwargs)
            except Exception:
                log.exception("%s listener failed", self.name)
