"""One IRC connection: a person's (or the probe's) link to one network.

Registers (CAP, SASL PLAIN when a password is stored and the server offers it, else NickServ
IDENTIFY), keeps the nick it was given (a taken nick gets `_` appended), answers PINGs and
checks the link itself, joins the channels it is asked to and joins them again after every
reconnect. Reconnects with a backoff that doubles from 1 s up to 5 min. What is sent goes through
an outbox drained at a flood-safe rate (a token bucket); lines wait there while the link is down
and are sent once it is back; a line that waited longer than MAX_WAIT_S is given to `on_dropped`
(the bridge tells the person) rather than lost without a word. Lines from Matrix carry the row of
the bridge's persisted outbox, deleted (`before_write`) just before the line is written. Every outbound step has a timeout.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .protocol import Message, format_line, irc_lower, parse_line

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 15.0
REGISTER_TIMEOUT_S = 30.0
IDLE_PING_S = 90.0
DEAD_AFTER_S = 180.0
MIN_BACKOFF_S = 1.0
MAX_BACKOFF_S = 300.0
MAX_WAIT_S = 600.0


@dataclass(frozen=True, slots=True)
class Network:
    name: str
    host: str
    port: int
    tls: bool = False


class TokenBucket:
    """`rate` lines a second on average, `burst` at once."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.at = time.monotonic()

    def wait_time(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


OnMessage = Callable[["IrcConnection", Message], Awaitable[None]]


class IrcConnection:
    def __init__(self, key: str, network: Network, nick: str, *, on_message: OnMessage,
                 on_state: Callable[[IrcConnection, str, str], None],
                 on_dropped: Callable[[IrcConnection, str], None] | None = None,
                 password: str | None = None, rate: float = 2.0, burst: int = 5, realname: str = "Hearth"):
        self.key = key
        self.network = network
        self.wanted_nick = nick
        self.nick = nick
        self.password = password
        self.realname = realname
        self.on_message = on_message
        self.on_state = on_state
        self.on_dropped = on_dropped
        self.channels: set[str] = set()      # lowercased channels wanted
        self.joined: set[str] = set()        # lowercased channels joined now
        self.registered = asyncio.Event()
        self._ready = asyncio.Event()        # registered and the channels asked for again: the outbox may flow
        self.closing = False
        self._outbox: deque[tuple[str, float, int | None]] = deque()  # (line, queued at, outbox row)
        # Awaited with a persisted line's row just before the line is written (the row is deleted:
        # a line is never written twice, and one never written survives a restart).
        self.before_write: Callable[[int], Awaitable[None]] | None = None
        self._outbox_ready = asyncio.Event()
        self._bucket = TokenBucket(rate, burst)
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task | None = None

    # -- life -----------------------------------------------------------------------------------

    def start(self) -> asyncio.Task:
        self._task = asyncio.ensure_future(self.run())
        self._task.set_name(f"irc {self.key}")
        return self._task

    async def close(self, message: str = "Goodbye") -> None:
        self.closing = True
        if self._writer is not None and not self._writer.is_closing():
            try:
                self._writer.write((format_line("QUIT", message) + "\r\n").encode())
                async with asyncio.timeout(2):
                    await self._writer.drain()
            except (OSError, TimeoutError):
                pass
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def drop_link(self) -> None:
        """Cut the TCP link as a network failure would (tests; the bridge reconnects)."""
        if self._writer is not None:
            transport = self._writer.transport
            transport.abort()

    async def run(self) -> None:
        backoff = MIN_BACKOFF_S
        while not self.closing:
            started = time.monotonic()
            try:
                await self._session()
                reason = "the server closed the connection"
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, ssl.SSLError, ConnectionError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self.registered.clear()
            self._ready.clear()
            self.joined.clear()
            self._writer = None
            if self.closing:
                return
            if time.monotonic() - started > 60:
                backoff = MIN_BACKOFF_S
            self.on_state(self, "reconnecting", f"{self.network.name}: {reason}; trying again in {backoff:g} s")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _session(self) -> None:
        ctx = ssl.create_default_context() if self.network.tls else None
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(self.network.host, self.network.port, ssl=ctx)
        self._writer = writer
        sender = asyncio.ensure_future(self._drain_outbox(writer))
        try:
            await self._register(reader, writer)
            self.on_state(self, "connected", "")
            for channel in sorted(self.channels):
                self._raw(format_line("JOIN", channel))
            self._ready.set()
            await self._read(reader, writer)
        finally:
            sender.cancel()
            writer.close()

    def _raw(self, line: str) -> None:
        """Straight to the socket (registration, PONG): not rate limited, not queued."""
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write((line + "\r\n").encode())

    async def _register(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._raw("CAP LS 302")
        self._raw(format_line("NICK", self.nick))
        self._raw(format_line("USER", self.nick[:10] or "hearth", "0", "*", self.realname))
        await writer.drain()
        async with asyncio.timeout(REGISTER_TIMEOUT_S):
            while not self.registered.is_set():
                raw = await reader.readline()
                if not raw:
                    raise ConnectionError("closed during registration")
                msg = parse_line(raw.decode("utf-8", "replace"))
                if msg is not None:
                    await self._registration_step(msg)
                await writer.drain()

    async def _registration_step(self, msg: Message) -> None:
        cmd, p = msg.command, msg.params
        if cmd == "PING":
            self._raw(format_line("PONG", *p))
        elif cmd == "CAP" and len(p) >= 3 and p[1] == "LS":
            offered = p[-1].split()
            if self.password and any(c == "sasl" or c.startswith("sasl=") for c in offered):
                self._raw("CAP REQ :sasl")
            else:
                self._raw("CAP END")
        elif cmd == "CAP" and len(p) >= 3 and p[1] == "ACK" and "sasl" in p[-1]:
            self._raw("AUTHENTICATE PLAIN")
        elif cmd == "CAP" and len(p) >= 2 and p[1] == "NAK":
            self._raw("CAP END")
        elif cmd == "AUTHENTICATE" and p and p[0] == "+":
            token = base64.b64encode(f"{self.wanted_nick}\0{self.wanted_nick}\0{self.password}".encode()).decode()
            self._raw(f"AUTHENTICATE {token}")
        elif cmd in ("903", "904", "905", "906", "907"):
            self._raw("CAP END")
        elif cmd in ("432", "433", "436"):  # erroneous / taken nick: try another
            self.nick = (self.nick + "_")[:30]
            self._raw(format_line("NICK", self.nick))
        elif cmd == "001":
            self.nick = p[0] if p else self.nick
            self.registered.set()
            if self.password and self.nick == self.wanted_nick:
                self._raw(format_line("PRIVMSG", "NickServ", f"IDENTIFY {self.password}"))

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        last = time.monotonic()
        pinged = False
        while True:
            try:
                async with asyncio.timeout(IDLE_PING_S):
                    raw = await reader.readline()
            except TimeoutError:
                if time.monotonic() - last > DEAD_AFTER_S or pinged:
                    raise TimeoutError("no answer from the server") from None
                self._raw(format_line("PING", "hearth"))
                pinged = True
                continue
            if not raw:
                return
            last, pinged = time.monotonic(), False
            msg = parse_line(raw.decode("utf-8", "replace"))
            if msg is None:
                continue
            if msg.command == "PING":
                self._raw(format_line("PONG", *msg.params))
                continue
            self._track(msg)
            try:
                await self.on_message(self, msg)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("irc %s: handling %s failed", self.key, msg.command)

    def _track(self, msg: Message) -> None:
        """Our own nick and channels, as the server tells them."""
        mine = msg.nick is not None and irc_lower(msg.nick) == irc_lower(self.nick)
        if msg.command == "NICK" and mine and msg.params:
            self.nick = msg.params[0]
        elif msg.command == "JOIN" and mine and msg.params:
            self.joined.add(irc_lower(msg.params[0]))
        elif msg.command == "PART" and mine and msg.params:
            self.joined.discard(irc_lower(msg.params[0]))
        elif msg.command == "KICK" and len(msg.params) >= 2 and irc_lower(msg.params[1]) == irc_lower(self.nick):
            self.joined.discard(irc_lower(msg.params[0]))
            self.channels.discard(irc_lower(msg.params[0]))

    # -- sending --------------------------------------------------------------------------------

    def send(self, line: str, row: int | None = None, queued_at: float | None = None) -> None:
        """Queue a line (rate limited; kept while the link is down). `row`: its outbox row, for
        a line that must survive a restart."""
        self._outbox.append((line, time.monotonic() if queued_at is None else queued_at, row))
        self._outbox_ready.set()

    def join(self, channel: str) -> None:
        key = irc_lower(channel)
        if key not in self.channels:
            self.channels.add(key)
            if self.registered.is_set():
                self.send(format_line("JOIN", channel))

    def part(self, channel: str, reason: str = "Left the room") -> None:
        key = irc_lower(channel)
        self.channels.discard(key)
        if key in self.joined:
            self.send(format_line("PART", channel, reason))

    async def _drain_outbox(self, writer: asyncio.StreamWriter) -> None:
        await self._ready.wait()
        while True:
            while not self._outbox:
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
            line, queued_at, row = self._outbox[0]
            if time.monotonic() - queued_at > MAX_WAIT_S:
                self._outbox.popleft()
                if row is not None and self.before_write is not None:
                    await self.before_write(row)
                if self.on_dropped is not None:
                    self.on_dropped(self, line)
                continue
            wait = self._bucket.wait_time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            self._bucket.take()
            if row is not None and self.before_write is not None:
                await self.before_write(row)
            writer.write((line + "\r\n").encode())
            async with asyncio.timeout(30):
                await writer.drain()
            self._outbox.popleft()  # written: only now out of the outbox

    def pending(self) -> int:
        return len(self._outbox)
