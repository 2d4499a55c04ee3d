"""One socket write per HTTP/1.1 response instead of two.

Hypercorn's HTTP/1.1 protocol writes a response's status line and headers as soon as they are
serialised, then the body with a write of its own: two send() system calls per response, and a
client that wakes twice. Under load that pair was ~7–14% of the event loop's time, and on an idle
server the largest single item (py-spy, GIL held: uvloop sends without letting go of it).
`install()` has hypercorn hold the headers until the first body bytes (or the end of the
message) and send them together. Everything else — h11's state machine, errors, keep-alive —
is hypercorn's own code; if the method this wraps is not there (another hypercorn), nothing
changes.
"""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

_HELD = "_hearth_held_head"


def _wrap(original: Any, h11: Any, raw_data: type) -> Any:
    async def send_h11_event(self: Any, event: Any) -> None:
        if type(event) is h11.Response:  # a final response's head: held for the body
            try:
                data = self.connection.send(event)
            except h11.LocalProtocolError:
                if self.connection.their_state != h11.ERROR:
                    raise
                return
            setattr(self, _HELD, getattr(self, _HELD, b"") + data)
            return
        head = getattr(self, _HELD, b"")
        if not head:
            await original(self, event)
            return
        setattr(self, _HELD, b"")
        try:
            data = self.connection.send(event)
        except h11.LocalProtocolError:
            if self.connection.their_state != h11.ERROR:
                raise
            data = b""
        await self.send(raw_data(data=head + (data or b"")))

    send_h11_event.__wrapped__ = original  # type: ignore[attr-defined]
    return send_h11_event


def install() -> bool:
    """Patch hypercorn's H11Protocol (once); returns whether it is in place."""
    try:
        import h11
        from hypercorn.events import RawData
        from hypercorn.protocol.h11 import H11Protocol
    except ImportError:
        return False
    current = getattr(H11Protocol, "_send_h11_event", None)
    if current is None:
        log.info("hypercorn without H11Protocol._send_h11_event: responses are written as it does")
        return False
    if getattr(current, "__wrapped__", None) is not None:
        return True
    H11Protocol._send_h11_event = _wrap(current, h11, RawData)
    return True
