"""Typed events between services (appliance/core/signals.py): listeners in subscription order, a
failing listener logged and never breaking the emitter or the listeners after it."""
from __future__ import annotations

import logging

from appliance.core.signals import AsyncEvent, Event


def test_event_calls_every_listener_in_order_and_survives_a_failure(caplog):
    seen: list[tuple[str, int]] = []
    event: Event[[int]] = Event("number")
    event.subscribe(lambda n: seen.append(("first", n)))
    event.subscribe(lambda n: 1 / 0)
    event.subscribe(lambda n: seen.append(("third", n)))
    with caplog.at_level(logging.ERROR):
        event.emit(7)
    assert seen == [("first", 7), ("third", 7)]
    assert "number listener failed" in caplog.text


async def test_async_event_awaits_every_listener_in_order_and_survives_a_failure(caplog):
    seen: list[tuple[str, list[str]]] = []

    async def record(user_id: str, device_ids: list[str]) -> None:
        seen.append((user_id, device_ids))

    async def fail(user_id: str, device_ids: list[str]) -> None:
        raise RuntimeError("boom")

    event: AsyncEvent[[str, list[str]]] = AsyncEvent("devices deleted")
    event.subscribe(fail)
    event.subscribe(record)
    with caplog.at_level(logging.ERROR):
        await event.emit("@a:h", ["D1"])
    assert seen == [("@a:h", ["D1"])]
    assert "devices deleted listener failed" in caplog.text
