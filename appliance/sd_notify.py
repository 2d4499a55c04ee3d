"""systemd's notify protocol (sd_notify(3)), in plain asyncio: no extra library.

Under `Type=notify` systemd passes `NOTIFY_SOCKET`, a unix datagram socket (a path, or an
abstract name written with a leading `@`). We send `READY=1` once the server accepts
connections, `STATUS=…` lines for `systemctl status`, `STOPPING=1` on shutdown, and, when
`WatchdogSec=` set `WATCHDOG_USEC`, `WATCHDOG=1` every half period from an asyncio task: if
the event loop hangs, the pings stop and systemd restarts the service.

Without `NOTIFY_SOCKET` (a developer's `hearth run`, the tests) every call is a no-op.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


def socket_address(notify_socket: str) -> str | bytes:
    """`@name` is in Linux's abstract namespace: a leading NUL byte instead of the `@`."""
    if notify_socket.startswith("@"):
        return b"\0" + notify_socket[1:].encode()
    return notify_socket


class Notifier:
    def __init__(self, notify_socket: str | None, watchdog_usec: int | None = None) -> None:
        self.address = socket_address(notify_socket) if notify_socket else None
        self.watchdog_interval = watchdog_usec / 2 / 1_000_000 if watchdog_usec else None
        self._sock: socket.socket | None = None
        self._watchdog: asyncio.Task | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        notify_socket = environ.get("NOTIFY_SOCKET") or None
        if notify_socket and not notify_socket.startswith(("/", "@")):
            log.warning("ignoring NOTIFY_SOCKET=%r: not a unix socket path or abstract name", notify_socket)
            notify_socket = None
        watchdog_usec: int | None = None
        usec, pid = environ.get("WATCHDOG_USEC", ""), environ.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the process the watchdog is meant for; a child must not ping.
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            watchdog_usec = int(usec)
        return cls(notify_socket, watchdog_usec)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    async def notify(self, *assignments: str) -> bool:
        """Send one datagram of `KEY=value` lines; False if there is no socket or it failed."""
        if self.address is None:
            return False
        loop = asyncio.get_running_loop()
        try:
            if self._sock is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                sock.setblocking(False)
                try:
                    sock.connect(self.address)
                except OSError:
                    sock.close()
                    raise
                self._sock = sock
            await loop.sock_sendall(self._sock, "\n".join(assignments).encode())
            return True
        except OSError as exc:
            log.warning("sd_notify %s failed: %s", assignments, exc)
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            return False

    async def ready(self, status: str | None = None) -> bool:
        return await self.notify("READY=1", *([f"STATUS={_one_line(status)}"] if status else []))

    async def status(self, text: str) -> bool:
        return await self.notify(f"STATUS={_one_line(text)}")

    async def stopping(self, status: str = "Stopping") -> bool:
        return await self.notify("STOPPING=1", f"STATUS={_one_line(status)}")

    def start_watchdog(self) -> None:
        """Ping every half `WATCHDOG_USEC` from a task on this loop, until `close()`."""
        if self.enabled and self.watchdog_interval and self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._ping(), name="sd_notify watchdog")

    async def _ping(self) -> None:
        while True:
            await self.notify("WATCHDOG=1")
            await asyncio.sleep(self.watchdog_interval)

    async def close(self) -> None:
        task, self._watchdog = self._watchdog, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _one_line(text: str) -> str:
    return " ".join(text.split())
